package mlcore

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mlcore/mlcore/go/apiv1"
)

// openData is openTemp with the cache under the test's state directory, whatever the caller's
// environment says, and the project created.
func openData(t *testing.T) *Client {
	t.Helper()
	for _, v := range []string{"MLC_CACHE_DIR", "MLC_CACHE_COLD_DIR", "MLC_CACHE_CAPACITY"} {
		t.Setenv(v, "")
		os.Unsetenv(v)
	}
	c := openTemp(t)
	if _, err := c.CreateProject(&apiv1.Project{Name: "ml-research"}); err != nil {
		t.Fatalf("CreateProject: %v", err)
	}
	return c
}

func TestLoadDataMissThenHit(t *testing.T) {
	c := openData(t)
	content := []byte(strings.Repeat("mlcore data cache\n", 1000))
	src := filepath.Join(t.TempDir(), "train.csv")
	if err := os.WriteFile(src, content, 0o644); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(content)
	digest := hex.EncodeToString(sum[:])

	path, err := c.LoadData(src, "")
	if err != nil {
		t.Fatalf("LoadData: %v", err)
	}
	if path == src {
		t.Errorf("LoadData returned the origin path %q, not a cached copy", path)
	}
	if got, err := os.ReadFile(path); err != nil || string(got) != string(content) {
		t.Fatalf("cached copy at %q differs from the origin (err %v)", path, err)
	}

	again, err := c.LoadData("file://"+src, digest)
	if err != nil || again != path {
		t.Fatalf("second LoadData = %q, %v; want %q", again, err, path)
	}
	resp, err := c.Load(&apiv1.LoadRequest{Uri: src, Digest: digest})
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if resp.GetSource() != apiv1.LoadSource_LOAD_SOURCE_HOT || resp.GetLocalPath() != path ||
		resp.GetSizeBytes() != int64(len(content)) || resp.GetDigest() != digest {
		t.Errorf("Load = %v; want a hot hit at %q of %d bytes, digest %s", resp, path, len(content), digest)
	}

	stats, err := c.CacheStats()
	if err != nil {
		t.Fatalf("CacheStats: %v", err)
	}
	if stats.GetOriginFetches() != 1 || stats.GetOriginBytes() != int64(len(content)) {
		t.Errorf("origin fetches %d (%d bytes); want 1 (%d bytes)", stats.GetOriginFetches(),
			stats.GetOriginBytes(), len(content))
	}
	hot := stats.GetTiers()[0]
	if hot.GetTier() != apiv1.CacheTier_CACHE_TIER_HOT || hot.GetHits() != 2 || hot.GetMisses() != 1 ||
		hot.GetEntries() != 1 || hot.GetUsedBytes() != int64(len(content)) {
		t.Errorf("hot tier stats = %v; want 2 hits, 1 miss, 1 entry of %d bytes", hot, len(content))
	}
}

func TestLoadDataErrors(t *testing.T) {
	c := openData(t)
	dir := t.TempDir()
	src := filepath.Join(dir, "a.bin")
	if err := os.WriteFile(src, []byte("abc"), 0o644); err != nil {
		t.Fatal(err)
	}
	wrong := strings.Repeat("0", 64)
	if path, err := c.LoadData(src, wrong); CodeOf(err) != FailedPrecondition || path != "" {
		t.Errorf("wrong digest: LoadData = %q, %v; want FailedPrecondition", path, err)
	}
	if _, err := c.LoadData("s3://bucket/key", ""); CodeOf(err) != InvalidArgument ||
		!strings.Contains(err.Error(), "supported schemes") {
		t.Errorf("s3:// error = %v; want InvalidArgument listing the supported schemes", err)
	}
	if _, err := c.LoadData(filepath.Join(dir, "missing"), ""); CodeOf(err) != NotFound {
		t.Errorf("missing file error = %v; want NotFound", err)
	}
	if _, err := c.LoadData("artifact://a-missing", ""); CodeOf(err) != NotFound {
		t.Errorf("unknown artifact error = %v; want NotFound", err)
	}
	if _, err := c.LoadData(src, "xyz"); CodeOf(err) != InvalidArgument {
		t.Errorf("malformed digest error = %v; want InvalidArgument", err)
	}
	_ = c.Close()
	if _, err := c.LoadData(src, ""); CodeOf(err) != FailedPrecondition {
		t.Errorf("closed client error = %v; want FailedPrecondition", err)
	}
}
