package mlcore

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/mlcore/mlcore/go/apiv1"
)

// TestJobsOnSlurm runs jobs on a real Slurm cluster through slurm+http:// (the dev cluster that
// tests/slurm/with-cluster.sh starts and describes in MLC_SLURM_URI and SLURM_JWT; skipped when
// they are unset): the same calls as on local://, an exit code decoded from Slurm's wait status,
// logs read from the job's output file, a running job cancelled.
func TestJobsOnSlurm(t *testing.T) {
	base := os.Getenv("MLC_SLURM_URI")
	if base == "" || os.Getenv("SLURM_JWT") == "" {
		t.Skip("no Slurm dev cluster: run through tests/slurm/with-cluster.sh")
	}
	dir := t.TempDir()
	t.Setenv("MLC_CONFIG", dir+"/config.yaml")
	t.Setenv("MLC_BACKEND", "")
	t.Setenv("MLC_PROJECT", "")
	t.Setenv("MLC_CONTEXT", "")
	c, err := Open(base+"&state="+dir+"/state", "ml")
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer c.Close()
	if _, err := c.CreateProject(&apiv1.Project{Name: "ml"}); err != nil {
		t.Fatalf("CreateProject: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	failing := shell(dir, "go-fails-3", "echo from slurm; exit 3")
	job, err := c.SubmitJob(failing)
	if err != nil {
		t.Fatalf("SubmitJob: %v", err)
	}
	done, err := c.WaitJob(ctx, job.GetId())
	if err != nil {
		t.Fatalf("WaitJob: %v", err)
	}
	if done.GetState() != apiv1.JobState_JOB_STATE_FAILED || done.GetExitCode() != 3 {
		t.Errorf("ended %v with exit code %d, want FAILED with 3 (%s)", done.GetState(),
			done.GetExitCode(), done.GetMessage())
	}
	var lines []string
	err = c.Logs(ctx, &apiv1.StreamJobLogsRequest{Id: job.GetId()}, func(l *apiv1.LogLine) bool {
		lines = append(lines, l.GetText())
		return true
	})
	if err != nil || strings.Join(lines, "|") != "from slurm" {
		t.Errorf("logs = %q, %v; want the job's one line", lines, err)
	}

	long, err := c.SubmitJob(shell(dir, "go-long", "exec sleep 300"))
	if err != nil {
		t.Fatalf("SubmitJob: %v", err)
	}
	for deadline := time.Now().Add(time.Minute); ; {
		j, err := c.GetJob(long.GetId())
		if err == nil && j.GetState() == apiv1.JobState_JOB_STATE_RUNNING {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("go-long never ran: %v %v", j.GetState(), err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if _, err := c.CancelJob("go-long", "done with it"); err != nil {
		t.Fatalf("CancelJob: %v", err)
	}
	if end, err := c.WaitJob(ctx, "go-long"); err != nil || end.GetState() != apiv1.JobState_JOB_STATE_CANCELLED {
		t.Errorf("go-long ended %v, %v; want CANCELLED", end.GetState(), err)
	}
	listed, err := c.ListJobs(&apiv1.ListJobsRequest{Project: "ml"})
	if err != nil || len(listed.GetJobs()) != 2 {
		t.Errorf("ListJobs = %d jobs, %v; want 2", len(listed.GetJobs()), err)
	}
}
