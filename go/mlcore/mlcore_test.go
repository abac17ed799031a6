package mlcore

import (
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/mlcore/mlcore/go/apiv1"
)

func openTemp(t *testing.T) *Client {
	t.Helper()
	dir := t.TempDir()
	t.Setenv("MLC_CONFIG", dir+"/config.yaml")
	t.Setenv("MLC_BACKEND", "")
	t.Setenv("MLC_PROJECT", "")
	c, err := Open("local://"+dir+"/state", "ml-research")
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func TestProjectsEndToEnd(t *testing.T) {
	c := openTemp(t)
	if p, err := c.Project(); err != nil || p != "ml-research" {
		t.Fatalf("Project() = %q, %v", p, err)
	}
	created, err := c.CreateProject(&apiv1.Project{
		Name:        "ml-research",
		Description: "from Go",
		Labels:      map[string]string{"team": "recsys"},
		Guaranteed:  &apiv1.Resources{CpuMillis: 8000, MemoryBytes: 32 << 30},
	})
	if err != nil {
		t.Fatalf("CreateProject: %v", err)
	}
	if created.GetCreateTime().GetSeconds() == 0 || created.GetCreatedBy() == "" {
		t.Errorf("output-only fields not filled: %v", created)
	}
	got, err := c.GetProject("ml-research")
	if err != nil {
		t.Fatalf("GetProject: %v", err)
	}
	if got.GetGuaranteed().GetMemoryBytes() != 32<<30 || got.GetLabels()["team"] != "recsys" {
		t.Errorf("GetProject returned %v", got)
	}
	list, err := c.ListProjects()
	if err != nil || len(list) != 1 || list[0].GetName() != "ml-research" {
		t.Fatalf("ListProjects = %v, %v", list, err)
	}
	if err := c.DeleteProject("ml-research"); err != nil {
		t.Fatalf("DeleteProject: %v", err)
	}
	info, err := c.BackendInfo()
	if err != nil || info.GetScheme() != "local" {
		t.Fatalf("BackendInfo = %v, %v", info, err)
	}
}

func TestErrorsCarryCodeAndMessage(t *testing.T) {
	c := openTemp(t)
	_, err := c.GetProject("absent")
	var e *Error
	if !errors.As(err, &e) || e.Code != NotFound || !strings.Contains(e.Message, `"absent" does not exist`) {
		t.Fatalf("GetProject(absent) error = %#v", err)
	}
	if CodeOf(err) != NotFound || NotFound.String() != "NOT_FOUND" {
		t.Errorf("CodeOf = %v", CodeOf(err))
	}
	if _, err := c.CreateProject(&apiv1.Project{Name: "Bad_Name"}); CodeOf(err) != InvalidArgument {
		t.Errorf("bad name error = %v", err)
	}
	if _, err := Open("s3://bucket", ""); CodeOf(err) != InvalidArgument ||
		!strings.Contains(err.Error(), "known schemes: ") || !strings.Contains(err.Error(), "local") {
		t.Errorf("unknown scheme error = %v", err)
	}
	_ = c.Close()
	if _, err := c.ListProjects(); CodeOf(err) != FailedPrecondition {
		t.Errorf("closed client error = %v", err)
	}
}

func TestConcurrentUse(t *testing.T) {
	c := openTemp(t)
	var wg sync.WaitGroup
	errs := make(chan error, 40)
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < 10; i++ {
				name := string(rune('a'+w)) + "-" + string(rune('a'+i))
				if _, err := c.CreateProject(&apiv1.Project{Name: name}); err != nil {
					errs <- err
				}
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if list, err := c.ListProjects(); err != nil || len(list) != 40 {
		t.Fatalf("ListProjects = %d, %v", len(list), err)
	}
}

func TestIdentityOnLocalBackend(t *testing.T) {
	c := openTemp(t)
	who := &apiv1.WhoAmIResponse{}
	if err := c.Invoke("AuthService/WhoAmI", &apiv1.WhoAmIRequest{}, who); err != nil {
		t.Fatalf("WhoAmI: %v", err)
	}
	if who.GetUser().GetName() == "" || !who.GetUser().GetAdmin() || who.GetToken() != nil {
		t.Errorf("WhoAmI on local:// = %v, want an administrator without a token", who)
	}
	err := c.Invoke("AuthService/ListTokens", &apiv1.ListTokensRequest{}, &apiv1.ListTokensResponse{})
	if CodeOf(err) != FailedPrecondition || !strings.Contains(err.Error(), "mlc server") {
		t.Errorf("ListTokens on local:// error = %v", err)
	}
}
