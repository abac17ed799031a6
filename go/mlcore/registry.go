// Streaming calls (Logs and WatchRegistryEvents use them) and the model registry over the C ABI (mlc_invoke_stream, mlc_model_resolve,
// mlc_model_register). Every other RegistryService method goes through Invoke.

package mlcore

/*
#include <stdint.h>
#include <stdlib.h>
#include "mlcore.h"

// Defined in stream_bridge.go: mlc_invoke_stream with the Go callback and a cgo.Handle.
mlc_status mlcgo_invoke_stream(mlc_client* client, const char* method, const char* request_json,
                               uintptr_t handle, mlc_error** err);
*/
import "C"

import (
	"context"
	"runtime/cgo"
	"unsafe"

	"github.com/mlcore/mlcore/go/apiv1"
	"google.golang.org/protobuf/proto"
)

// messageStream is what one Stream call shares with its C callback, through a cgo.Handle.
type messageStream struct {
	ctx      context.Context
	fresh    func() proto.Message
	fn       func(proto.Message) bool
	err      error
	panicked bool
	panicVal any
}

// deliver handles one callback: a message, or nil for a heartbeat while the stream is idle. It
// returns false to stop. Panics of fn are caught so they never unwind through C and C++ frames.
func (s *messageStream) deliver(message *C.char) (cont bool) {
	defer func() {
		if r := recover(); r != nil {
			s.panicked, s.panicVal, cont = true, r, false
		}
	}()
	if s.ctx.Err() != nil {
		return false
	}
	if message == nil {
		return true
	}
	msg := s.fresh()
	if err := unmarshal([]byte(C.GoString(message)), msg); err != nil {
		s.err = &Error{Code: Internal, Message: "cannot decode a streamed message: " + err.Error()}
		return false
	}
	return s.fn(msg) && s.ctx.Err() == nil
}

//export mlcgoStreamMessage
func mlcgoStreamMessage(message *C.char, userData unsafe.Pointer) C.int {
	stream := cgo.Handle(uintptr(userData)).Value().(*messageStream)
	if stream.deliver(message) {
		return 1
	}
	return 0
}

// Stream calls a server-streaming method ("RegistryService/WatchRegistryEvents",
// "JobService/StreamJobLogs" with follow) and calls fn with each response, decoded into a fresh
// message from newResponse, on the calling goroutine, until the stream ends, fn returns false
// (then nil), or ctx is done (an error with code Cancelled or DeadlineExceeded; the C ABI's
// heartbeats let it notice while the stream is idle). A unary method delivers its one response.
func (c *Client) Stream(ctx context.Context, method string, request proto.Message,
	newResponse func() proto.Message, fn func(proto.Message) bool) error {
	return c.stream(ctx, method, request, "streaming "+method, newResponse, fn)
}

// stream is Stream with `what` naming the call in the error of a done ctx ("reading the logs of
// job X").
func (c *Client) stream(ctx context.Context, method string, request proto.Message, what string,
	newResponse func() proto.Message, fn func(proto.Message) bool) error {
	if newResponse == nil || fn == nil {
		return &Error{Code: InvalidArgument, Message: "Stream needs newResponse and fn"}
	}
	cr, err := encode("the "+method+" request", request)
	if err != nil {
		return err
	}
	defer C.free(unsafe.Pointer(cr))
	cm := C.CString(method)
	defer C.free(unsafe.Pointer(cm))
	stream := &messageStream{ctx: ctx, fresh: newResponse, fn: fn}
	handle := cgo.NewHandle(stream)
	defer handle.Delete()

	c.mu.RLock()
	h, err := c.handle()
	var cerr *C.mlc_error
	var status C.mlc_status
	if err == nil {
		status = C.mlcgo_invoke_stream(h, cm, cr, C.uintptr_t(handle), &cerr)
	}
	c.mu.RUnlock()
	if err != nil {
		return err
	}
	if stream.panicked {
		panic(stream.panicVal)
	}
	if err := takeError(status, cerr); err != nil {
		return err
	}
	if stream.err != nil {
		return stream.err
	}
	if err := ctx.Err(); err != nil {
		return contextError(err, "stopped "+what)
	}
	return nil
}

// WatchRegistryEvents calls fn with the project's registry events in sequence order (replaying
// from req.AfterSequence when set, else only new ones), until fn returns false or ctx is done.
// Errors: NotFound (project), InvalidArgument (filters).
func (c *Client) WatchRegistryEvents(ctx context.Context, req *apiv1.WatchRegistryEventsRequest,
	fn func(*apiv1.RegistryEvent) bool) error {
	if fn == nil {
		return &Error{Code: InvalidArgument, Message: "WatchRegistryEvents needs a function"}
	}
	return c.Stream(ctx, "RegistryService/WatchRegistryEvents", req,
		func() proto.Message { return &apiv1.RegistryEvent{} },
		func(m proto.Message) bool { return fn(m.(*apiv1.RegistryEvent)) })
}

// ResolveModel returns the version a models:/ URI (models:/NAME@ALIAS, models:/NAME/VERSION)
// names now. Errors: InvalidArgument (malformed URI), NotFound (the message lists the aliases),
// FailedPrecondition (not READY).
func (c *Client) ResolveModel(uri string) (*apiv1.ModelVersion, error) {
	cu := C.CString(uri)
	defer C.free(unsafe.Pointer(cu))
	out := &apiv1.ModelVersion{}
	return out, c.callJSON("ResolveModel", out, func(h *C.mlc_client, o **C.char, e **C.mlc_error) C.mlc_status {
		return C.mlc_model_resolve(h, cu, o, e)
	})
}

// RegisterModelVersion creates a version; with an UPLOAD source whose Path is a local directory,
// the directory is uploaded (only content the store lacks) and the version returned READY.
func (c *Client) RegisterModelVersion(req *apiv1.CreateModelVersionRequest) (*apiv1.ModelVersion, error) {
	cr, err := encode("the register request", req)
	if err != nil {
		return nil, err
	}
	defer C.free(unsafe.Pointer(cr))
	out := &apiv1.ModelVersion{}
	return out, c.callJSON("RegisterModelVersion", out, func(h *C.mlc_client, o **C.char, e **C.mlc_error) C.mlc_status {
		return C.mlc_model_register(h, cr, o, e)
	})
}
