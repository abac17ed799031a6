package mlcore

import (
	"sync"
	"testing"

	"github.com/mlcore/mlcore/go/apiv1"
)

func TestTrackingEndToEnd(t *testing.T) {
	c := openTemp(t)
	t.Setenv("MLC_SPOOL_DIR", t.TempDir())
	if _, err := c.CreateProject(&apiv1.Project{Name: "ml-research"}); err != nil {
		t.Fatalf("CreateProject: %v", err)
	}
	run, err := c.CreateRun("", "mnist", "go-run")
	if err != nil {
		t.Fatalf("CreateRun: %v", err)
	}
	l, err := c.Logger(run.GetId(), nil)
	if err != nil {
		t.Fatalf("Logger: %v", err)
	}
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			key := []string{"a", "b", "c", "d"}[g]
			for i := int64(0); i < 10000; i++ {
				if err := l.LogMetric(key, float64(i)/2, i); err != nil {
					t.Errorf("LogMetric: %v", err)
					return
				}
			}
		}(g)
	}
	wg.Wait()
	if err := l.LogSeries("series", []int64{1, 2, 3}, []float64{0.5, 0.25, 0.125}); err != nil {
		t.Fatalf("LogSeries: %v", err)
	}
	if err := l.LogParams(map[string]string{"lr": "0.01"}); err != nil {
		t.Fatalf("LogParams: %v", err)
	}
	if err := l.LogParams(map[string]string{"lr": "0.1"}); CodeOf(err) != FailedPrecondition {
		t.Fatalf("conflicting param: got %v, want FailedPrecondition", err)
	}
	if err := l.LogMetric("bad key!", 1, 0); CodeOf(err) != InvalidArgument {
		t.Fatalf("bad key: got %v", err)
	}
	if err := l.Close(apiv1.RunStatus_RUN_STATUS_FINISHED); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if s := l.Stats(); s.PointsWritten != 40003 || s.PointsLogged != 40003 {
		t.Fatalf("stats: %+v", s)
	}
	if err := l.LogMetric("a", 1, 1); CodeOf(err) != FailedPrecondition {
		t.Fatalf("log after close: %v", err)
	}
	steps, values, times, err := c.MetricHistory(run.GetId(), "b", 0)
	if err != nil || len(steps) != 10000 || steps[9999] != 9999 || values[10] != 5 || len(times) != 10000 {
		t.Fatalf("history: %d points, err %v", len(steps), err)
	}
	steps, _, _, err = c.MetricHistory("go-run", "b", 100)
	if err != nil || len(steps) != 100 || steps[0] != 0 || steps[99] != 9999 {
		t.Fatalf("downsampled: %v %v", steps, err)
	}
	got, err := c.GetRun(run.GetId())
	if err != nil || got.GetStatus() != apiv1.RunStatus_RUN_STATUS_FINISHED || got.GetParams()["lr"] != "0.01" {
		t.Fatalf("GetRun: %v %v", got, err)
	}
	runs, err := c.SearchRuns("", `params.lr = 0.01 and metrics.a > 1`, "metrics.a desc")
	if err != nil || len(runs) != 1 || runs[0].GetName() != "go-run" {
		t.Fatalf("SearchRuns: %v %v", runs, err)
	}
	if _, err := c.SearchRuns("", "params.lr lr 3", ""); CodeOf(err) != InvalidArgument {
		t.Fatalf("bad filter: %v", err)
	}
	if _, err := c.GetRun("r000000000000"); CodeOf(err) != NotFound {
		t.Fatalf("unknown run: %v", err)
	}
}
