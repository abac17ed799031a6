#include "pipelines/condition.h"

#include <cctype>
#include <utility>

#include <nlohmann/json.hpp>

namespace mlcore::pipelines {
namespace {

std::string Quote(std::string_view s) { return "\"" + std::string(s) + "\""; }

struct Token {
  enum class Type { kEnd, kLParen, kRParen, kOp, kWord, kNumber, kString };
  Type type = Type::kEnd;
  std::string text;  // as written (strings: their value)
  int column = 0;    // 1-based
};

bool IsWordStart(char c) { return std::isalpha(static_cast<unsigned char>(c)) != 0 || c == '_'; }
bool IsWordChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_' || c == '-' || c == '.';
}

Result<std::vector<Token>> Tokenize(std::string_view text) {
  std::vector<Token> out;
  size_t i = 0;
  auto at = [&](size_t pos) { return "at column " + std::to_string(pos + 1) + ": "; };
  while (i < text.size()) {
    char c = text[i];
    if (std::isspace(static_cast<unsigned char>(c))) {
      ++i;
      continue;
    }
    Token t;
    t.column = static_cast<int>(i) + 1;
    if (c == '(' || c == ')') {
      t.type = c == '(' ? Token::Type::kLParen : Token::Type::kRParen;
      t.text = std::string(1, c);
      ++i;
    } else if (c == '=' || c == '!' || c == '<' || c == '>') {
      bool two = i + 1 < text.size() && text[i + 1] == '=';
      if ((c == '=' || c == '!') && !two) {
        return InvalidArgumentError(at(i) + Quote(std::string(1, c)) +
                                    " is not an operator; write == or !=");
      }
      t.type = Token::Type::kOp;
      t.text = std::string(text.substr(i, two ? 2 : 1));
      i += two ? 2 : 1;
    } else if (c == '\'' || c == '"') {
      size_t end = i + 1;
      std::string value;
      while (end < text.size() && text[end] != c) {
        if (text[end] == '\\' && end + 1 < text.size()) ++end;
        value += text[end++];
      }
      if (end >= text.size()) {
        return InvalidArgumentError(at(i) + "the text starting here has no closing " +
                                    std::string(1, c));
      }
      t.type = Token::Type::kString;
      t.text = std::move(value);
      i = end + 1;
    } else if (std::isdigit(static_cast<unsigned char>(c)) ||
               ((c == '-' || c == '+' || c == '.') && i + 1 < text.size() &&
                (std::isdigit(static_cast<unsigned char>(text[i + 1])) || text[i + 1] == '.'))) {
      size_t end = i + 1;
      while (end < text.size() &&
             (std::isalnum(static_cast<unsigned char>(text[end])) || text[end] == '.' ||
              ((text[end] == '-' || text[end] == '+') &&
               (text[end - 1] == 'e' || text[end - 1] == 'E')))) {
        ++end;
      }
      t.type = Token::Type::kNumber;
      t.text = std::string(text.substr(i, end - i));
      nlohmann::json parsed =
          nlohmann::json::parse(t.text[0] == '+' ? t.text.substr(1) : t.text, nullptr, false);
      if (parsed.is_discarded() || !parsed.is_number()) {
        // "1.", ".5" are fine as numbers in people's eyes; JSON wants "1.0", "0.5".
        std::string fixed = t.text;
        if (fixed.front() == '+') fixed.erase(0, 1);
        if (fixed.front() == '.') fixed.insert(0, "0");
        if (fixed.starts_with("-.")) fixed.insert(1, "0");
        if (fixed.back() == '.') fixed += "0";
        parsed = nlohmann::json::parse(fixed, nullptr, false);
        if (parsed.is_discarded() || !parsed.is_number()) {
          return InvalidArgumentError(at(i) + Quote(t.text) + " is not a number");
        }
      }
      t.text = parsed.dump();
      i = end;
    } else if (IsWordStart(c)) {
      size_t end = i + 1;
      while (end < text.size() && IsWordChar(text[end])) ++end;
      t.type = Token::Type::kWord;
      t.text = std::string(text.substr(i, end - i));
      i = end;
    } else {
      return InvalidArgumentError(at(i) + "unexpected character " + Quote(std::string(1, c)));
    }
    out.push_back(std::move(t));
  }
  Token end;
  end.column = static_cast<int>(text.size()) + 1;
  out.push_back(end);
  return out;
}

std::vector<std::string> Split(std::string_view s, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  while (true) {
    size_t pos = s.find(sep, start);
    out.emplace_back(s.substr(start, pos == std::string_view::npos ? pos : pos - start));
    if (pos == std::string_view::npos) return out;
    start = pos + 1;
  }
}

Result<ConditionRef> ParseRef(const Token& t) {
  ConditionRef ref;
  ref.text = t.text;
  ref.column = t.column;
  std::vector<std::string> parts = Split(t.text, '.');
  auto bad = [&](const std::string& why) {
    return InvalidArgumentError("at column " + std::to_string(t.column) + ": " + Quote(t.text) +
                                " " + why +
                                "; write inputs.NAME (a pipeline input) or "
                                "steps.STEP.outputs.NAME (a step's output)");
  };
  for (const auto& p : parts) {
    if (p.empty()) return bad("has an empty part");
  }
  if (parts[0] == "inputs") {
    if (parts.size() != 2) return bad("is not a pipeline input reference");
    ref.pipeline_input = true;
    ref.name = parts[1];
    return ref;
  }
  if (parts[0] == "steps") {
    if (parts.size() < 4 || parts.size() > 5 || parts[2] != "outputs") {
      return bad("is not a step output reference");
    }
    ref.step = parts[1];
    ref.name = parts[3];
    if (parts.size() == 5) ref.key = parts[4];
    return ref;
  }
  return bad("is not a value");
}

class Parser {
 public:
  explicit Parser(std::vector<Token> tokens) : tokens_(std::move(tokens)) {}

  Result<Condition> Run() {
    Condition c;
    MLC_ASSIGN_OR_RETURN(c.root, Or());
    if (Peek().type != Token::Type::kEnd) {
      return Expected("\"and\", \"or\" or the end of the condition");
    }
    c.refs = std::move(refs_);
    return c;
  }

 private:
  using Node = std::unique_ptr<ConditionNode>;

  const Token& Peek() const { return tokens_[pos_]; }
  bool IsWord(std::string_view w) const {
    return Peek().type == Token::Type::kWord && Peek().text == w;
  }
  Status Expected(std::string_view what) const {
    const Token& t = Peek();
    std::string got = t.type == Token::Type::kEnd ? "the end of the condition" : Quote(t.text);
    return InvalidArgumentError("at column " + std::to_string(t.column) + ": expected " +
                                std::string(what) + ", got " + got);
  }

  Result<Node> Chain(ConditionNode::Kind kind, std::string_view word,
                     Result<Node> (Parser::*next)()) {
    int column = Peek().column;
    MLC_ASSIGN_OR_RETURN(Node first, (this->*next)());
    if (!IsWord(word)) return first;
    auto node = std::make_unique<ConditionNode>();
    node->kind = kind;
    node->column = column;
    node->children.push_back(std::move(first));
    while (IsWord(word)) {
      ++pos_;
      MLC_ASSIGN_OR_RETURN(Node more, (this->*next)());
      node->children.push_back(std::move(more));
    }
    return node;
  }
  Result<Node> Or() { return Chain(ConditionNode::Kind::kOr, "or", &Parser::And); }
  Result<Node> And() { return Chain(ConditionNode::Kind::kAnd, "and", &Parser::Not); }

  Result<Node> Not() {
    if (!IsWord("not")) return Primary();
    auto node = std::make_unique<ConditionNode>();
    node->kind = ConditionNode::Kind::kNot;
    node->column = Peek().column;
    ++pos_;
    MLC_ASSIGN_OR_RETURN(Node child, Not());
    node->children.push_back(std::move(child));
    return node;
  }

  Result<Node> Primary() {
    if (Peek().type == Token::Type::kLParen) {
      ++pos_;
      MLC_ASSIGN_OR_RETURN(Node inner, Or());
      if (Peek().type != Token::Type::kRParen) return Expected("\")\"");
      ++pos_;
      return inner;
    }
    MLC_ASSIGN_OR_RETURN(Node left, Operand());
    if (Peek().type != Token::Type::kOp) return left;
    auto node = std::make_unique<ConditionNode>();
    node->kind = ConditionNode::Kind::kCompare;
    node->column = left->column;
    node->op = Peek().text;
    ++pos_;
    MLC_ASSIGN_OR_RETURN(Node right, Operand());
    node->children.push_back(std::move(left));
    node->children.push_back(std::move(right));
    return node;
  }

  Result<Node> Operand() {
    const Token& t = Peek();
    auto node = std::make_unique<ConditionNode>();
    node->column = t.column;
    using L = ConditionNode::Literal;
    switch (t.type) {
      case Token::Type::kNumber:
        node->literal = L::kNumber;
        node->json = t.text;
        break;
      case Token::Type::kString:
        node->literal = L::kString;
        node->json = nlohmann::json(t.text).dump();
        break;
      case Token::Type::kWord:
        if (t.text == "true" || t.text == "false") {
          node->literal = L::kBool;
          node->json = t.text;
        } else if (t.text == "null") {
          node->literal = L::kNull;
          node->json = "null";
        } else if (t.text == "and" || t.text == "or" || t.text == "not") {
          return Expected("a value");
        } else {
          MLC_ASSIGN_OR_RETURN(node->ref, ParseRef(t));
          refs_.push_back(node->ref);
        }
        break;
      default:
        return Expected(
            "a value (inputs.NAME, steps.STEP.outputs.NAME, a number, 'text', "
            "true or false)");
    }
    ++pos_;
    return node;
  }

  std::vector<Token> tokens_;
  size_t pos_ = 0;
  std::vector<ConditionRef> refs_;
};

using Json = nlohmann::json;

Result<Json> OperandValue(const ConditionNode& node, const ConditionResolver& resolve) {
  if (node.literal != ConditionNode::Literal::kNone) return Json::parse(node.json);
  MLC_ASSIGN_OR_RETURN(std::string text, resolve(node.ref));
  Json value = Json::parse(text, nullptr, false);
  if (value.is_discarded()) {
    return InvalidArgumentError(node.ref.text + " is not a JSON value: " + Quote(text));
  }
  return value;
}

std::string Describe(const ConditionNode& node, const Json& value) {
  return (node.literal == ConditionNode::Literal::kNone ? node.ref.text + " (" + value.dump() + ")"
                                                        : value.dump());
}

Result<bool> Eval(const ConditionNode& node, const ConditionResolver& resolve) {
  using K = ConditionNode::Kind;
  switch (node.kind) {
    case K::kOr:
      for (const auto& c : node.children) {
        MLC_ASSIGN_OR_RETURN(bool v, Eval(*c, resolve));
        if (v) return true;
      }
      return false;
    case K::kAnd:
      for (const auto& c : node.children) {
        MLC_ASSIGN_OR_RETURN(bool v, Eval(*c, resolve));
        if (!v) return false;
      }
      return true;
    case K::kNot: {
      MLC_ASSIGN_OR_RETURN(bool v, Eval(*node.children[0], resolve));
      return !v;
    }
    case K::kOperand: {
      MLC_ASSIGN_OR_RETURN(Json v, OperandValue(node, resolve));
      if (!v.is_boolean()) {
        return InvalidArgumentError(Describe(node, v) +
                                    " is not true or false; compare it with something");
      }
      return v.get<bool>();
    }
    case K::kCompare: {
      const ConditionNode& l = *node.children[0];
      const ConditionNode& r = *node.children[1];
      MLC_ASSIGN_OR_RETURN(Json a, OperandValue(l, resolve));
      MLC_ASSIGN_OR_RETURN(Json b, OperandValue(r, resolve));
      const std::string& op = node.op;
      if (a.is_number() && b.is_number()) {
        double x = a.get<double>(), y = b.get<double>();
        if (op == "==") return x == y;
        if (op == "!=") return x != y;
        if (op == "<") return x < y;
        if (op == "<=") return x <= y;
        if (op == ">") return x > y;
        return x >= y;
      }
      if (op == "==") return a == b;
      if (op == "!=") return a != b;
      if (a.is_string() && b.is_string()) {
        const auto& x = a.get_ref<const std::string&>();
        const auto& y = b.get_ref<const std::string&>();
        if (op == "<") return x < y;
        if (op == "<=") return x <= y;
        if (op == ">") return x > y;
        return x >= y;
      }
      return InvalidArgumentError("cannot compare " + Describe(l, a) + " " + op + " " +
                                  Describe(r, b) + ": " + op + " needs two numbers or two texts");
    }
  }
  return InternalError("unknown condition node");
}

}  // namespace

Result<Condition> ParseCondition(std::string_view text) {
  MLC_ASSIGN_OR_RETURN(std::vector<Token> tokens, Tokenize(text));
  if (tokens.size() == 1) return InvalidArgumentError("the condition is empty");
  return Parser(std::move(tokens)).Run();
}

Result<bool> EvaluateCondition(const Condition& condition, const ConditionResolver& resolve) {
  if (!condition.root) return InvalidArgumentError("the condition is empty");
  return Eval(*condition.root, resolve);
}

}  // namespace mlcore::pipelines
