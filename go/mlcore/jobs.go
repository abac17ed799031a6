// Jobs and scheduling facts over the C ABI's mlc_job_* functions.

package mlcore

/*
#include <stdint.h>
#include <stdlib.h>
#include "mlcore.h"
*/
import "C"

import (
	"context"
	"errors"
	"time"
	"unsafe"

	"github.com/mlcore/mlcore/go/apiv1"
	"google.golang.org/protobuf/proto"
)

// waitSlice bounds one blocking mlc_job_wait call, so WaitJob notices a cancelled context.
const waitSlice = 250 * time.Millisecond

// callJSON runs one mlc_* call that returns a JSON string through its out-parameter and decodes
// the string into out.
func (c *Client) callJSON(what string, out proto.Message,
	call func(h *C.mlc_client, out **C.char, cerr **C.mlc_error) C.mlc_status) error {
	c.mu.RLock()
	defer c.mu.RUnlock()
	h, err := c.handle()
	if err != nil {
		return err
	}
	var cout *C.char
	var cerr *C.mlc_error
	if err := takeError(call(h, &cout, &cerr), cerr); err != nil {
		return err
	}
	defer C.mlc_string_free(&cout)
	if err := unmarshal([]byte(C.GoString(cout)), out); err != nil {
		return &Error{Code: Internal, Message: "cannot decode the result of " + what + ": " + err.Error()}
	}
	return nil
}

// encode marshals a request for the C ABI; nil (or a nil message) gives NULL, the empty request.
// The caller frees the result with C.free.
func encode(what string, m proto.Message) (*C.char, error) {
	if m == nil || !m.ProtoReflect().IsValid() {
		return nil, nil
	}
	body, err := marshal(m)
	if err != nil {
		return nil, &Error{Code: InvalidArgument, Message: "cannot encode " + what + ": " + err.Error()}
	}
	return C.CString(string(body)), nil
}

// contextError is the error of a call stopped by its context: code Cancelled or DeadlineExceeded,
// unwrapping to ctx.Err() so errors.Is(err, context.Canceled) holds.
func contextError(err error, what string) error {
	code := Cancelled
	if errors.Is(err, context.DeadlineExceeded) {
		code = DeadlineExceeded
	}
	return &Error{Code: code, Message: what + ": " + err.Error(), cause: err}
}

// IsFinal reports whether a job in state s has ended: SUCCEEDED, FAILED, CANCELLED, PREEMPTED
// (not requeued), TIMED_OUT or LOST.
func IsFinal(s apiv1.JobState) bool {
	switch s {
	case apiv1.JobState_JOB_STATE_SUCCEEDED, apiv1.JobState_JOB_STATE_FAILED,
		apiv1.JobState_JOB_STATE_CANCELLED, apiv1.JobState_JOB_STATE_PREEMPTED,
		apiv1.JobState_JOB_STATE_TIMED_OUT, apiv1.JobState_JOB_STATE_LOST:
		return true
	}
	return false
}

// SubmitJob queues a job and returns it as stored (usually PENDING or STARTING). Empty fields are
// filled like `mlc job submit` does: the client's project, a generated name, the current
// directory, the base environment. Errors: InvalidArgument (every spec problem at once, e.g. an
// unknown flavor listing the known ones), NotFound (project), AlreadyExists (name),
// ResourceExhausted (exceeds the project's limit), FailedPrecondition (could never fit).
func (c *Client) SubmitJob(spec *apiv1.JobSpec) (*apiv1.Job, error) {
	if spec == nil {
		return nil, &Error{Code: InvalidArgument, Message: "SubmitJob needs a spec"}
	}
	cs, err := encode("the job spec", spec)
	if err != nil {
		return nil, err
	}
	if cs == nil { // an empty spec: the core reports what is missing
		cs = C.CString("{}")
	}
	defer C.free(unsafe.Pointer(cs))
	out := &apiv1.Job{}
	return out, c.callJSON("SubmitJob", out, func(h *C.mlc_client, o **C.char, e **C.mlc_error) C.mlc_status {
		return C.mlc_job_submit(h, cs, o, e)
	})
}

// GetJob describes a job (full view) by id, or by name in the client's project (or any project
// where the name is unique). Errors: NotFound, InvalidArgument (empty idOrName).
func (c *Client) GetJob(idOrName string) (*apiv1.Job, error) {
	ci := cstring(idOrName)
	defer C.free(unsafe.Pointer(ci))
	out := &apiv1.Job{}
	return out, c.callJSON("GetJob", out, func(h *C.mlc_client, o **C.char, e **C.mlc_error) C.mlc_status {
		return C.mlc_job_get(h, ci, o, e)
	})
}

// ListJobs returns one page of jobs, newest first. A nil request or an empty project means the
// client's project; Project "*" means every project. Pass NextPageToken as PageToken for more.
func (c *Client) ListJobs(req *apiv1.ListJobsRequest) (*apiv1.ListJobsResponse, error) {
	cr, err := encode("the ListJobs request", req)
	if err != nil {
		return nil, err
	}
	defer C.free(unsafe.Pointer(cr))
	out := &apiv1.ListJobsResponse{}
	return out, c.callJSON("ListJobs", out, func(h *C.mlc_client, o **C.char, e **C.mlc_error) C.mlc_status {
		return C.mlc_job_list(h, cr, o, e)
	})
}

// CancelJob cancels a job (SIGTERM to its process group, SIGKILL after the grace period) and
// returns it; use WaitJob to see it end. Idempotent on a cancelled job. Errors: NotFound,
// FailedPrecondition (it already ended otherwise).
func (c *Client) CancelJob(idOrName, reason string) (*apiv1.Job, error) {
	return c.jobControl("CancelJob", idOrName, reason, func(h *C.mlc_client, id, r *C.char,
		o **C.char, e **C.mlc_error) C.mlc_status {
		return C.mlc_job_cancel(h, id, r, o, e)
	})
}

// PreemptJob preempts a running preemptible job as the scheduler would (stop, requeue while
// restarts remain). Errors: NotFound, FailedPrecondition (not running or not preemptible).
func (c *Client) PreemptJob(idOrName, reason string) (*apiv1.Job, error) {
	return c.jobControl("PreemptJob", idOrName, reason, func(h *C.mlc_client, id, r *C.char,
		o **C.char, e **C.mlc_error) C.mlc_status {
		return C.mlc_job_preempt(h, id, r, o, e)
	})
}

// RerunJob submits a new job from the recorded spec and environment of idOrName; an empty name
// gives "<old name>-r<suffix>". Errors: NotFound, AlreadyExists (name), FailedPrecondition.
func (c *Client) RerunJob(idOrName, name string) (*apiv1.Job, error) {
	return c.jobControl("RerunJob", idOrName, name, func(h *C.mlc_client, id, n *C.char,
		o **C.char, e **C.mlc_error) C.mlc_status {
		return C.mlc_job_rerun(h, id, n, o, e)
	})
}

func (c *Client) jobControl(what, idOrName, arg string,
	call func(h *C.mlc_client, id, arg *C.char, o **C.char, e **C.mlc_error) C.mlc_status) (*apiv1.Job, error) {
	ci, ca := cstring(idOrName), cstring(arg)
	defer C.free(unsafe.Pointer(ci))
	defer C.free(unsafe.Pointer(ca))
	out := &apiv1.Job{}
	return out, c.callJSON(what, out, func(h *C.mlc_client, o **C.char, e **C.mlc_error) C.mlc_status {
		return call(h, ci, ca, o, e)
	})
}

// WaitJob blocks until the job reaches a final state (see IsFinal) and returns it (full view). A
// job that ends FAILED is a successful wait: look at its State and ExitCode. When ctx ends first
// the error has code Cancelled or DeadlineExceeded and unwraps to ctx.Err().
func (c *Client) WaitJob(ctx context.Context, idOrName string) (*apiv1.Job, error) {
	ci := cstring(idOrName)
	defer C.free(unsafe.Pointer(ci))
	for {
		if err := ctx.Err(); err != nil {
			return nil, contextError(err, "stopped waiting for job "+idOrName)
		}
		var timeout time.Duration // 0: forever, when ctx can never end
		if ctx.Done() != nil {
			timeout = waitSlice
			if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) < timeout {
				timeout = max(time.Until(deadline), time.Millisecond)
			}
		}
		out := &apiv1.Job{}
		err := c.callJSON("WaitJob", out, func(h *C.mlc_client, o **C.char, e **C.mlc_error) C.mlc_status {
			return C.mlc_job_wait(h, ci, C.int64_t(timeout.Milliseconds()), o, e)
		})
		if CodeOf(err) == DeadlineExceeded && timeout > 0 {
			continue // one slice passed; check ctx and wait again
		}
		if err != nil {
			return nil, err
		}
		return out, nil
	}
}

// Logs calls fn with each log line of the job named by req.Id (an id or a name), in capture order,
// on the calling goroutine, until fn returns false (then Logs returns nil). With req.Follow it
// keeps delivering new lines until the job ends or ctx is done, also while the job prints nothing
// (the C ABI sends heartbeats); a done ctx gives an error with code Cancelled or DeadlineExceeded
// that unwraps to ctx.Err(). Streams default to stdout and stderr. Errors: NotFound,
// InvalidArgument (bad grep, tail < 0). A following Logs holds the client: Close waits for it.
func (c *Client) Logs(ctx context.Context, req *apiv1.StreamJobLogsRequest,
	fn func(*apiv1.LogLine) bool) error {
	if req == nil || fn == nil {
		return &Error{Code: InvalidArgument, Message: "Logs needs a request naming the job and a function"}
	}
	return c.stream(ctx, "JobService/StreamJobLogs", req, "reading the logs of job "+req.GetId(),
		func() proto.Message { return &apiv1.StreamJobLogsResponse{} },
		func(m proto.Message) bool {
			for _, line := range m.(*apiv1.StreamJobLogsResponse).GetLines() {
				if !fn(line) {
					return false
				}
			}
			return true
		})
}

// WatchJobs calls fn with each state transition of the jobs req selects (req.Project, or every
// project the caller can see; req.Ids by id or name), first those at or after req.Since when set,
// then new ones as they happen, on the calling goroutine, until fn returns false (then nil) or ctx
// is done (an error with code Cancelled or DeadlineExceeded that unwraps to ctx.Err()). Errors:
// NotFound (project or a listed job).
func (c *Client) WatchJobs(ctx context.Context, req *apiv1.WatchJobsRequest,
	fn func(*apiv1.WatchJobsResponse) bool) error {
	if req == nil || fn == nil {
		return &Error{Code: InvalidArgument, Message: "WatchJobs needs a request and a function"}
	}
	return c.stream(ctx, "JobService/WatchJobs", req, "watching jobs",
		func() proto.Message { return &apiv1.WatchJobsResponse{} },
		func(m proto.Message) bool { return fn(m.(*apiv1.WatchJobsResponse)) })
}

// LintJobSpec checks a preset file's text (YAML or JSON) without submitting it; file names it in
// the problems. Problems (with line, column and a "did you mean") are in the response, not the
// error; ResolvedSpec is set when there are none.
func (c *Client) LintJobSpec(text, file string) (*apiv1.LintJobSpecResponse, error) {
	ct, cf := C.CString(text), cstring(file)
	defer C.free(unsafe.Pointer(ct))
	defer C.free(unsafe.Pointer(cf))
	out := &apiv1.LintJobSpecResponse{}
	return out, c.callJSON("LintJobSpec", out, func(h *C.mlc_client, o **C.char, e **C.mlc_error) C.mlc_status {
		return C.mlc_job_lint(h, ct, cf, o, e)
	})
}

// QuotaUsage reports guaranteed, limit and used resources per project (nil = every project).
func (c *Client) QuotaUsage(req *apiv1.GetQuotaUsageRequest) (*apiv1.GetQuotaUsageResponse, error) {
	cr, err := encode("the quota request", req)
	if err != nil {
		return nil, err
	}
	defer C.free(unsafe.Pointer(cr))
	out := &apiv1.GetQuotaUsageResponse{}
	return out, c.callJSON("QuotaUsage", out, func(h *C.mlc_client, o **C.char, e **C.mlc_error) C.mlc_status {
		return C.mlc_quota_usage(h, cr, o, e)
	})
}

// Flavors returns the flavor catalog of every region.
func (c *Client) Flavors() (*apiv1.ListFlavorsResponse, error) {
	out := &apiv1.ListFlavorsResponse{}
	return out, c.callJSON("Flavors", out, func(h *C.mlc_client, o **C.char, e **C.mlc_error) C.mlc_status {
		return C.mlc_flavor_list(h, o, e)
	})
}
