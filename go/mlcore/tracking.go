// Experiment tracking over the C ABI: runs, a buffered RunLogger (no JSON per point), columnar
// metric history, and the offline spool's sync.

package mlcore

/*
#include <stdint.h>
#include <stdlib.h>
#include "mlcore.h"
*/
import "C"

import (
	"runtime"
	"sync"
	"time"
	"unsafe"

	"github.com/mlcore/mlcore/go/apiv1"
)

// CreateRun starts a RUNNING run in project (empty = the client's) and experiment (a name or id;
// empty = "default", created on first use); name empty = generated.
func (c *Client) CreateRun(project, experiment, name string) (*apiv1.Run, error) {
	run := &apiv1.Run{}
	p, e, n := cstring(project), cstring(experiment), cstring(name)
	defer C.free(unsafe.Pointer(p))
	defer C.free(unsafe.Pointer(e))
	defer C.free(unsafe.Pointer(n))
	err := c.callJSON("CreateRun", run, func(h *C.mlc_client, out **C.char, cerr **C.mlc_error) C.mlc_status {
		return C.mlc_run_create(h, p, e, n, out, cerr)
	})
	return run, err
}

// GetRun describes a run by id, or by name within the client's project.
func (c *Client) GetRun(idOrName string) (*apiv1.Run, error) {
	run := &apiv1.Run{}
	id := cstring(idOrName)
	defer C.free(unsafe.Pointer(id))
	err := c.callJSON("GetRun", run, func(h *C.mlc_client, out **C.char, cerr **C.mlc_error) C.mlc_status {
		return C.mlc_run_get(h, id, out, cerr)
	})
	return run, err
}

// SearchRuns returns every run of project matching filter ("params.lr < 0.01 and metrics.loss <
// 0.3"), ordered by orderBy ("metrics.loss asc,start_time desc"; empty = newest first), with
// their metric summaries.
func (c *Client) SearchRuns(project, filter, orderBy string) ([]*apiv1.Run, error) {
	resp := &apiv1.SearchRunsResponse{}
	p, f, o := cstring(project), cstring(filter), cstring(orderBy)
	defer C.free(unsafe.Pointer(p))
	defer C.free(unsafe.Pointer(f))
	defer C.free(unsafe.Pointer(o))
	err := c.callJSON("SearchRuns", resp, func(h *C.mlc_client, out **C.char, cerr **C.mlc_error) C.mlc_status {
		return C.mlc_run_search(h, p, f, o, out, cerr)
	})
	return resp.GetRuns(), err
}

// LoggerOptions tune a RunLogger; the zero value means every default (flush every second, a
// 4M-point buffer that blocks when full, no system metrics, the default spool directory).
type LoggerOptions struct {
	FlushInterval         time.Duration
	MaxBufferedPoints     int
	DropWhenFull          bool
	SystemMetrics         bool
	SystemMetricsInterval time.Duration
	SpoolDir              string
}

// RunLogger buffers metric points of one run and writes them in the background; see
// libmlcore/include/mlcore/tracking.h. Safe for concurrent use; Close it when done.
type RunLogger struct {
	mu     sync.RWMutex // Close/free exclude the other calls
	h      *C.mlc_run_logger
	client *Client // kept alive while the logger is
	keys   map[string]*C.char
	keysMu sync.Mutex
}

// Logger starts logging to the existing run runID (an id or a name).
func (c *Client) Logger(runID string, o *LoggerOptions) (*RunLogger, error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	h, err := c.handle()
	if err != nil {
		return nil, err
	}
	var opts C.mlc_run_logger_options
	var spool *C.char
	if o != nil {
		opts.flush_interval_ms = C.int64_t(o.FlushInterval / time.Millisecond)
		opts.max_buffered_points = C.size_t(o.MaxBufferedPoints)
		if o.DropWhenFull {
			opts.drop_when_full = 1
		}
		if o.SystemMetrics {
			opts.system_metrics = 1
		}
		opts.system_metrics_interval_ms = C.int64_t(o.SystemMetricsInterval / time.Millisecond)
		if o.SpoolDir != "" {
			spool = cstring(o.SpoolDir)
			defer C.free(unsafe.Pointer(spool))
			opts.spool_dir = spool
		}
	}
	id := cstring(runID)
	defer C.free(unsafe.Pointer(id))
	var out *C.mlc_run_logger
	var cerr *C.mlc_error
	if err := takeError(C.mlc_run_logger_open(h, id, &opts, &out, &cerr), cerr); err != nil {
		return nil, err
	}
	l := &RunLogger{h: out, client: c, keys: map[string]*C.char{}}
	runtime.SetFinalizer(l, func(l *RunLogger) { l.free() })
	return l, nil
}

// key returns a C copy of k, made once per key (the hot path then allocates nothing).
func (l *RunLogger) key(k string) *C.char {
	l.keysMu.Lock()
	defer l.keysMu.Unlock()
	ck, ok := l.keys[k]
	if !ok {
		ck = C.CString(k)
		l.keys[k] = ck
	}
	return ck
}

func (l *RunLogger) live() (*C.mlc_run_logger, error) {
	if l.h == nil {
		return nil, &Error{Code: FailedPrecondition, Message: "the run logger is closed"}
	}
	return l.h, nil
}

// RunID is the logger's run.
func (l *RunLogger) RunID() string {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return C.GoString(C.mlc_run_logger_run_id(l.h))
}

// LogMetric buffers one point (blocks only when the buffer is full and DropWhenFull is off).
func (l *RunLogger) LogMetric(key string, value float64, step int64) error {
	l.mu.RLock()
	defer l.mu.RUnlock()
	h, err := l.live()
	if err != nil {
		return err
	}
	var cerr *C.mlc_error
	return takeError(C.mlc_run_log_metric(h, l.key(key), C.double(value), C.int64_t(step), &cerr), cerr)
}

// LogSeries buffers many points of one key (steps and values of the same length).
func (l *RunLogger) LogSeries(key string, steps []int64, values []float64) error {
	if len(steps) != len(values) {
		return &Error{Code: InvalidArgument, Message: "LogSeries: steps and values differ in length"}
	}
	if len(steps) == 0 {
		return nil
	}
	l.mu.RLock()
	defer l.mu.RUnlock()
	h, err := l.live()
	if err != nil {
		return err
	}
	var cerr *C.mlc_error
	return takeError(C.mlc_run_log_metrics(h, l.key(key), (*C.int64_t)(unsafe.Pointer(&steps[0])),
		(*C.double)(unsafe.Pointer(&values[0])), C.size_t(len(steps)), nil, &cerr), cerr)
}

func (l *RunLogger) pairs(kv map[string]string,
	call func(h *C.mlc_run_logger, keys, values **C.char, n C.size_t, cerr **C.mlc_error) C.mlc_status) error {
	l.mu.RLock()
	defer l.mu.RUnlock()
	h, err := l.live()
	if err != nil {
		return err
	}
	n := len(kv)
	if n == 0 {
		return nil
	}
	ptrSize := C.size_t(unsafe.Sizeof((*C.char)(nil)))
	keys := (**C.char)(C.malloc(C.size_t(n) * ptrSize))
	values := (**C.char)(C.malloc(C.size_t(n) * ptrSize))
	defer C.free(unsafe.Pointer(keys))
	defer C.free(unsafe.Pointer(values))
	ks := unsafe.Slice(keys, n)
	vs := unsafe.Slice(values, n)
	i := 0
	for k, v := range kv {
		ks[i], vs[i] = C.CString(k), C.CString(v)
		i++
	}
	defer func() {
		for j := 0; j < n; j++ {
			C.free(unsafe.Pointer(ks[j]))
			C.free(unsafe.Pointer(vs[j]))
		}
	}()
	var cerr *C.mlc_error
	return takeError(call(h, keys, values, C.size_t(n), &cerr), cerr)
}

// LogParams sets params now; re-setting one to another value is FailedPrecondition naming both.
func (l *RunLogger) LogParams(params map[string]string) error {
	return l.pairs(params, func(h *C.mlc_run_logger, k, v **C.char, n C.size_t, e **C.mlc_error) C.mlc_status {
		return C.mlc_run_log_params(h, k, v, n, e)
	})
}

// SetTags sets or overwrites tags now.
func (l *RunLogger) SetTags(tags map[string]string) error {
	return l.pairs(tags, func(h *C.mlc_run_logger, k, v **C.char, n C.size_t, e **C.mlc_error) C.mlc_status {
		return C.mlc_run_set_tags(h, k, v, n, e)
	})
}

// Flush returns once everything logged before is durable (or kept in the spool: then an error).
func (l *RunLogger) Flush() error {
	l.mu.RLock()
	defer l.mu.RUnlock()
	h, err := l.live()
	if err != nil {
		return err
	}
	var cerr *C.mlc_error
	return takeError(C.mlc_run_flush(h, &cerr), cerr)
}

// LoggerStats counts what a RunLogger did.
type LoggerStats struct {
	PointsLogged, PointsWritten, PointsDropped, PointsSpooled, BatchesWritten, Retries uint64
}

// Stats returns the logger's counters (also after Close).
func (l *RunLogger) Stats() LoggerStats {
	l.mu.RLock()
	defer l.mu.RUnlock()
	var s C.mlc_run_logger_stats
	if l.h == nil || C.mlc_run_logger_get_stats(l.h, &s) != C.MLC_OK {
		return LoggerStats{}
	}
	return LoggerStats{uint64(s.points_logged), uint64(s.points_written), uint64(s.points_dropped),
		uint64(s.points_spooled), uint64(s.batches_written), uint64(s.retries)}
}

// Close flushes and, unless status is RUN_STATUS_UNSPECIFIED, ends the run with status
// (FINISHED, FAILED or KILLED). The logger cannot log afterwards; Stats still works.
func (l *RunLogger) Close(status apiv1.RunStatus) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	h, err := l.live()
	if err != nil {
		return nil // closed before: nothing to do
	}
	var cerr *C.mlc_error
	return takeError(C.mlc_run_logger_close(h, C.int(status), &cerr), cerr)
}

func (l *RunLogger) free() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.h != nil {
		C.mlc_run_logger_free(&l.h)
	}
	for _, k := range l.keys {
		C.free(unsafe.Pointer(k))
	}
	l.keys = nil
}

// MetricHistory reads key of run (id or name): every point, or with maxPoints > 0 an LTTB view
// of at most that many points. Columns: steps, values, and times in microseconds.
func (c *Client) MetricHistory(run, key string, maxPoints int) (steps []int64, values []float64, timesUs []int64, err error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	h, err := c.handle()
	if err != nil {
		return nil, nil, nil, err
	}
	r, k := cstring(run), cstring(key)
	defer C.free(unsafe.Pointer(r))
	defer C.free(unsafe.Pointer(k))
	var opts C.mlc_history_options
	if maxPoints > 0 {
		opts.method = C.MLC_DOWNSAMPLING_METHOD_LTTB
		opts.max_points = C.int32_t(maxPoints)
	}
	var cs, ct *C.int64_t
	var cv *C.double
	var n C.size_t
	var cerr *C.mlc_error
	if err := takeError(C.mlc_metric_history(h, r, k, &opts, &cs, &cv, &ct, &n, &cerr), cerr); err != nil {
		return nil, nil, nil, err
	}
	defer C.mlc_metric_history_free(&cs, &cv, &ct)
	if n == 0 {
		return []int64{}, []float64{}, []int64{}, nil
	}
	steps = append([]int64(nil), unsafe.Slice((*int64)(unsafe.Pointer(cs)), int(n))...)
	values = append([]float64(nil), unsafe.Slice((*float64)(unsafe.Pointer(cv)), int(n))...)
	timesUs = append([]int64(nil), unsafe.Slice((*int64)(unsafe.Pointer(ct)), int(n))...)
	return steps, values, timesUs, nil
}
