package mlcore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mlcore/mlcore/go/apiv1"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// openJobs opens a client on a fresh local store with a fixed node size and the project
// ml-research created; jobs run for real under mlc-supervisor (found next to libmlcore's ../cli,
// or through MLC_SUPERVISOR). It returns the client and a directory to run jobs in.
func openJobs(t *testing.T) (*Client, string) {
	t.Helper()
	t.Setenv("MLC_NODE_CAPACITY", "cpu=4,memory=8Gi,gpu=0")
	t.Setenv("MLC_CONTEXT", "")
	c := openTemp(t)
	if _, err := c.CreateProject(&apiv1.Project{Name: "ml-research"}); err != nil {
		t.Fatalf("CreateProject: %v", err)
	}
	return c, t.TempDir()
}

// shell is a small job (so several run at once on the 4-CPU, 8 GiB test node) running script.
func shell(dir, name, script string) *apiv1.JobSpec {
	return &apiv1.JobSpec{Name: name, Command: []string{"sh", "-c", script}, WorkingDir: dir,
		Size: &apiv1.JobSpec_Resources{Resources: &apiv1.Resources{CpuMillis: 100, MemoryBytes: 64 << 20}}}
}

func waitFor(t *testing.T, c *Client, id string, state apiv1.JobState) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		if j, err := c.GetJob(id); err == nil && j.GetState() == state {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("job %s never reached %v", id, state)
}

func TestJobsEndToEnd(t *testing.T) {
	c, dir := openJobs(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	if _, err := c.SubmitJob(&apiv1.JobSpec{Command: []string{"true"}, Project: "absent", WorkingDir: dir}); CodeOf(err) != NotFound || !strings.Contains(err.Error(), "absent") {
		t.Errorf("unknown project error = %v", err)
	}
	spec := shell(dir, "", "true")
	spec.Size = &apiv1.JobSpec_Flavor{Flavor: "gpu-huge"}
	if _, err := c.SubmitJob(spec); CodeOf(err) != InvalidArgument || !strings.Contains(err.Error(), "cpu-2-8") {
		t.Errorf("unknown flavor error = %v", err)
	}
	if _, err := c.SubmitJob(nil); CodeOf(err) != InvalidArgument {
		t.Errorf("nil spec error = %v", err)
	}

	spec = shell(dir, "fails-3", "echo hi; echo oops >&2; exit 3")
	spec.Labels = map[string]string{"suite": "go"}
	job, err := c.SubmitJob(spec)
	if err != nil {
		t.Fatalf("SubmitJob: %v", err)
	}
	if job.GetId() == "" || job.GetSpec().GetProject() != "ml-research" {
		t.Errorf("submitted job = %v", job)
	}
	done, err := c.WaitJob(ctx, "fails-3")
	if err != nil {
		t.Fatalf("WaitJob: %v", err)
	}
	if done.GetState() != apiv1.JobState_JOB_STATE_FAILED || done.ExitCode == nil || done.GetExitCode() != 3 {
		t.Errorf("finished job: state %v exit %v", done.GetState(), done.ExitCode)
	}
	if len(done.GetEvents()) == 0 || !IsFinal(done.GetState()) {
		t.Errorf("WaitJob should return the full view: %v", done)
	}

	var texts []string
	err = c.Logs(ctx, &apiv1.StreamJobLogsRequest{Id: job.GetId()}, func(l *apiv1.LogLine) bool {
		texts = append(texts, l.GetStream().String()+":"+l.GetText())
		return true
	})
	if err != nil || strings.Join(texts, ",") != "LOG_STREAM_STDOUT:hi,LOG_STREAM_STDERR:oops" {
		t.Errorf("Logs = %v, %v", texts, err)
	}
	texts = nil
	err = c.Logs(ctx, &apiv1.StreamJobLogsRequest{Id: "fails-3", Follow: true, Tail: 1}, func(l *apiv1.LogLine) bool {
		texts = append(texts, l.GetText())
		return true
	})
	if err != nil || len(texts) != 1 || texts[0] != "oops" {
		t.Errorf("Logs(follow, tail 1) of an ended job = %v, %v", texts, err)
	}
	n := 0
	if err := c.Logs(ctx, &apiv1.StreamJobLogsRequest{Id: "fails-3"}, func(*apiv1.LogLine) bool { n++; return false }); err != nil || n != 1 {
		t.Errorf("Logs stopping at the first line: %d lines, %v", n, err)
	}
	if err := c.Logs(ctx, &apiv1.StreamJobLogsRequest{Id: "fails-3", Grep: "("}, func(*apiv1.LogLine) bool { return true }); CodeOf(err) != InvalidArgument {
		t.Errorf("bad grep error = %v", err)
	}
	if err := c.Logs(ctx, &apiv1.StreamJobLogsRequest{Id: "absent"}, func(*apiv1.LogLine) bool { return true }); CodeOf(err) != NotFound {
		t.Errorf("logs of an absent job error = %v", err)
	}

	got, err := c.GetJob("fails-3")
	if err != nil || got.GetId() != job.GetId() {
		t.Errorf("GetJob(name) = %v, %v", got, err)
	}
	if _, err := c.GetJob("absent"); CodeOf(err) != NotFound {
		t.Errorf("GetJob(absent) error = %v", err)
	}
	list, err := c.ListJobs(&apiv1.ListJobsRequest{Project: "*", Labels: map[string]string{"suite": "go"}})
	if err != nil || len(list.GetJobs()) != 1 || list.GetJobs()[0].GetId() != job.GetId() {
		t.Errorf("ListJobs(label) = %v, %v", list, err)
	}
	list, err = c.ListJobs(&apiv1.ListJobsRequest{States: []apiv1.JobState{apiv1.JobState_JOB_STATE_SUCCEEDED}})
	if err != nil || len(list.GetJobs()) != 0 {
		t.Errorf("ListJobs(SUCCEEDED) = %v, %v", list, err)
	}

	rerun, err := c.RerunJob("fails-3", "fails-3-again")
	if err != nil || rerun.GetRerunOf() != job.GetId() || rerun.GetSpec().GetName() != "fails-3-again" {
		t.Fatalf("RerunJob = %v, %v", rerun, err)
	}
	if again, err := c.WaitJob(ctx, rerun.GetId()); err != nil || again.GetExitCode() != 3 {
		t.Errorf("rerun ended %v, %v", again, err)
	}
	if _, err := c.RerunJob("fails-3", "fails-3-again"); CodeOf(err) != AlreadyExists {
		t.Errorf("rerun with a taken name error = %v", err)
	}

	lint, err := c.LintJobSpec("name: t1\nprojct: ml-research\ncommand: [\"true\"]\nflavor: gpu-huge\n", "train.yaml")
	if err != nil {
		t.Fatalf("LintJobSpec: %v", err)
	}
	if len(lint.GetProblems()) != 2 || lint.GetProblems()[0].GetSuggestion() != `did you mean "project"?` ||
		lint.GetProblems()[0].GetLine() != 2 || lint.GetProblems()[0].GetFile() != "train.yaml" ||
		lint.GetProblems()[1].GetCode() != "unknown_flavor" || lint.GetResolvedSpec() != nil {
		t.Errorf("LintJobSpec = %v", lint)
	}
	if ok, err := c.LintJobSpec("name: ok\ncommand: [\"true\"]\n", ""); err != nil || len(ok.GetProblems()) != 0 || ok.GetResolvedSpec().GetName() != "ok" {
		t.Errorf("LintJobSpec(valid) = %v, %v", ok, err)
	}

	flavors, err := c.Flavors()
	if err != nil || len(flavors.GetCatalogs()) == 0 || flavors.GetCatalogs()[0].GetDefaultFlavor() != "cpu-2-8" {
		t.Errorf("Flavors = %v, %v", flavors, err)
	}
	quota, err := c.QuotaUsage(&apiv1.GetQuotaUsageRequest{Project: "ml-research", PerUser: true})
	if err != nil || !strings.Contains(quota.String(), "ml-research") {
		t.Errorf("QuotaUsage = %v, %v", quota, err)
	}
	if _, err := c.QuotaUsage(nil); err != nil {
		t.Errorf("QuotaUsage(nil) error = %v", err)
	}
}

func TestCancelAndPreempt(t *testing.T) {
	c, dir := openJobs(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	job, err := c.SubmitJob(shell(dir, "sleeper", "exec sleep 60"))
	if err != nil {
		t.Fatalf("SubmitJob: %v", err)
	}
	waitFor(t, c, job.GetId(), apiv1.JobState_JOB_STATE_RUNNING)
	if _, err := c.PreemptJob("sleeper", ""); CodeOf(err) != FailedPrecondition {
		t.Errorf("preempting a non-preemptible job error = %v", err)
	}
	if _, err := c.CancelJob("sleeper", "no longer needed"); err != nil {
		t.Fatalf("CancelJob: %v", err)
	}
	if done, err := c.WaitJob(ctx, job.GetId()); err != nil || done.GetState() != apiv1.JobState_JOB_STATE_CANCELLED {
		t.Errorf("cancelled job ended %v, %v", done.GetState(), err)
	}
	if _, err := c.CancelJob("absent", ""); CodeOf(err) != NotFound {
		t.Errorf("CancelJob(absent) error = %v", err)
	}

	spot := &apiv1.JobSpec{Name: "spot", Command: []string{"sleep", "60"}, WorkingDir: dir, Preemptible: true}
	job, err = c.SubmitJob(spot)
	if err != nil {
		t.Fatalf("SubmitJob(spot): %v", err)
	}
	waitFor(t, c, job.GetId(), apiv1.JobState_JOB_STATE_RUNNING)
	if _, err := c.PreemptJob("spot", "make room"); err != nil {
		t.Fatalf("PreemptJob: %v", err)
	}
	if done, err := c.WaitJob(ctx, "spot"); err != nil || done.GetState() != apiv1.JobState_JOB_STATE_PREEMPTED {
		t.Errorf("preempted job ended %v, %v", done.GetState(), err)
	}
}

func TestContextStopsLogsAndWait(t *testing.T) {
	c, dir := openJobs(t)
	job, err := c.SubmitJob(shell(dir, "quiet", "echo started; exec sleep 60"))
	if err != nil {
		t.Fatalf("SubmitJob: %v", err)
	}
	defer func() { _, _ = c.CancelJob(job.GetId(), "test over") }()
	waitFor(t, c, job.GetId(), apiv1.JobState_JOB_STATE_RUNNING)

	// Following a job that prints nothing more still stops when ctx ends (heartbeats).
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	var texts []string
	start := time.Now()
	err = c.Logs(ctx, &apiv1.StreamJobLogsRequest{Id: "quiet", Follow: true}, func(l *apiv1.LogLine) bool {
		texts = append(texts, l.GetText())
		return true
	})
	if CodeOf(err) != DeadlineExceeded || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Logs(follow) past its deadline error = %v", err)
	}
	if elapsed := time.Since(start); elapsed > 2*time.Second {
		t.Errorf("Logs(follow) took %v to notice its deadline", elapsed)
	}
	if len(texts) != 1 || texts[0] != "started" {
		t.Errorf("Logs(follow) lines = %v", texts)
	}

	// WaitJob stops on cancellation.
	ctx2, cancel2 := context.WithCancel(context.Background())
	go func() { time.Sleep(200 * time.Millisecond); cancel2() }()
	start = time.Now()
	_, err = c.WaitJob(ctx2, "quiet")
	if CodeOf(err) != Cancelled || !errors.Is(err, context.Canceled) {
		t.Errorf("WaitJob cancelled error = %v", err)
	}
	if elapsed := time.Since(start); elapsed > 2*time.Second {
		t.Errorf("WaitJob took %v to notice cancellation", elapsed)
	}
	if _, err := c.WaitJob(ctx2, "quiet"); CodeOf(err) != Cancelled {
		t.Errorf("WaitJob with a done context error = %v", err)
	}

	// A panic in the callback reaches the caller of Logs, and the client stays usable.
	func() {
		defer func() {
			if r := recover(); r != "boom" {
				t.Errorf("recovered %v, want boom", r)
			}
		}()
		_ = c.Logs(context.Background(), &apiv1.StreamJobLogsRequest{Id: "quiet"}, func(*apiv1.LogLine) bool { panic("boom") })
	}()

	// A follow ends by itself when the job ends, after the last line.
	if _, err := c.SubmitJob(shell(dir, "chatty", "for i in 1 2 3; do echo line$i; sleep 0.2; done")); err != nil {
		t.Fatalf("SubmitJob(chatty): %v", err)
	}
	texts = nil
	err = c.Logs(context.Background(), &apiv1.StreamJobLogsRequest{Id: "chatty", Follow: true}, func(l *apiv1.LogLine) bool {
		texts = append(texts, l.GetText())
		return true
	})
	if err != nil || strings.Join(texts, ",") != "line1,line2,line3" {
		t.Errorf("Logs(follow) of a running job = %v, %v", texts, err)
	}
}

func TestConcurrentSubmitAndWait(t *testing.T) {
	c, dir := openJobs(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const workers, perWorker = 4, 5
	var wg sync.WaitGroup
	errs := make(chan error, workers*perWorker)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < perWorker; i++ {
				spec := shell(dir, fmt.Sprintf("w%d-j%d", w, i), fmt.Sprintf("echo %d-%d", w, i))
				job, err := c.SubmitJob(spec)
				if err != nil {
					errs <- err
					continue
				}
				done, err := c.WaitJob(ctx, job.GetId())
				if err != nil {
					errs <- err
				} else if done.GetState() != apiv1.JobState_JOB_STATE_SUCCEEDED {
					errs <- fmt.Errorf("job %s ended %v: %s", done.GetSpec().GetName(), done.GetState(), done.GetMessage())
				}
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	list, err := c.ListJobs(&apiv1.ListJobsRequest{PageSize: 100})
	if err != nil || len(list.GetJobs()) != workers*perWorker {
		t.Fatalf("ListJobs = %d jobs, %v", len(list.GetJobs()), err)
	}
}

func TestJobsOnClosedClient(t *testing.T) {
	c, _ := openJobs(t)
	_ = c.Close()
	if _, err := c.GetJob("x"); CodeOf(err) != FailedPrecondition {
		t.Errorf("GetJob on a closed client error = %v", err)
	}
	if err := c.Logs(context.Background(), &apiv1.StreamJobLogsRequest{Id: "x"}, func(*apiv1.LogLine) bool { return true }); CodeOf(err) != FailedPrecondition {
		t.Errorf("Logs on a closed client error = %v", err)
	}
	if _, err := c.WaitJob(context.Background(), "x"); CodeOf(err) != FailedPrecondition {
		t.Errorf("WaitJob on a closed client error = %v", err)
	}
}

func TestWatchJobs(t *testing.T) {
	c, dir := openJobs(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	since := timestamppb.Now()
	spec := shell(dir, "watched", "true")
	spec.Project = "ml-research"
	job, err := c.SubmitJob(spec)
	if err != nil {
		t.Fatalf("SubmitJob: %v", err)
	}
	var states []apiv1.JobState
	err = c.WatchJobs(ctx, &apiv1.WatchJobsRequest{Project: "ml-research", Since: since},
		func(r *apiv1.WatchJobsResponse) bool {
			if r.GetJobId() != job.GetId() || r.GetJob().GetSpec().GetName() != "watched" {
				t.Errorf("transition of another job: %v", r)
			}
			states = append(states, r.GetEvent().GetToState())
			return r.GetEvent().GetToState() != apiv1.JobState_JOB_STATE_SUCCEEDED
		})
	if err != nil {
		t.Fatalf("WatchJobs: %v", err)
	}
	want := []apiv1.JobState{apiv1.JobState_JOB_STATE_PENDING, apiv1.JobState_JOB_STATE_STARTING,
		apiv1.JobState_JOB_STATE_RUNNING, apiv1.JobState_JOB_STATE_SUCCEEDED}
	if fmt.Sprint(states) != fmt.Sprint(want) {
		t.Errorf("transitions = %v, want %v", states, want)
	}
	// A cancelled context ends an idle watch.
	short, stop := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer stop()
	err = c.WatchJobs(short, &apiv1.WatchJobsRequest{Project: "ml-research"},
		func(*apiv1.WatchJobsResponse) bool { return true })
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("watch after its deadline: %v", err)
	}
	if err := c.WatchJobs(ctx, &apiv1.WatchJobsRequest{Project: "absent"},
		func(*apiv1.WatchJobsResponse) bool { return true }); CodeOf(err) != NotFound {
		t.Errorf("unknown project: %v", err)
	}
}
