// The data-load cache over the C ABI: loads (a local path to verified content, fetched once on a
// miss) and the cache's counters. Pins, listing, eviction and prefetch go through Invoke
// ("DataService/Pin", ...); see docs/data.md.

package mlcore

/*
#include <stdlib.h>
#include "mlcore.h"
*/
import "C"

import (
	"unsafe"

	"github.com/mlcore/mlcore/go/apiv1"
)

// LoadData returns a local path to verified content of uri (a path, file://, http(s):// or
// artifact://ID[/PATH]; a directory artifact gives a directory of links to its files), fetching
// it from the origin on a miss, charged to the client's project. digest is the expected SHA-256
// (64 lowercase hex); empty accepts what the origin serves. The call blocks until the content is
// cached (at most 30 minutes); use Load for a shorter timeout, a pin or revalidation. Errors:
// InvalidArgument (unsupported scheme, malformed digest), NotFound, FailedPrecondition (the
// content does not match digest; nothing is served), ResourceExhausted, DeadlineExceeded,
// Unavailable, DataLoss.
func (c *Client) LoadData(uri, digest string) (string, error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	h, err := c.handle()
	if err != nil {
		return "", err
	}
	cu, cd := C.CString(uri), cstring(digest)
	defer C.free(unsafe.Pointer(cu))
	defer C.free(unsafe.Pointer(cd))
	var out *C.char
	var cerr *C.mlc_error
	if err := takeError(C.mlc_data_load(h, cu, cd, &out, &cerr), cerr); err != nil {
		return "", err
	}
	defer C.mlc_string_free(&out)
	return C.GoString(out), nil
}

// Load is LoadData with every option of the request (pin owner, revalidation, timeout, project)
// and the whole response: local path, digest, size and where it was served from (hot, cold or
// origin).
func (c *Client) Load(req *apiv1.LoadRequest) (*apiv1.LoadResponse, error) {
	out := &apiv1.LoadResponse{}
	return out, c.Invoke("DataService/Load", req, out)
}

// CacheStats returns the cache's counters and occupancy: per tier (hot first) hits, misses, bytes
// served and written, used/capacity/pinned bytes, entries and evictions; origin fetches and bytes,
// single-flight waits and verification failures.
func (c *Client) CacheStats() (*apiv1.CacheStats, error) {
	out := &apiv1.CacheStats{}
	err := c.callJSON("CacheStats", out, func(h *C.mlc_client, o **C.char, cerr **C.mlc_error) C.mlc_status {
		return C.mlc_data_stats(h, o, cerr)
	})
	return out, err
}
