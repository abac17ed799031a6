package mlcore

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/mlcore/mlcore/go/apiv1"
	"google.golang.org/protobuf/proto"
)

func TestRegistryRegisterResolveWatch(t *testing.T) {
	c := openData(t)
	dir := filepath.Join(t.TempDir(), "model")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "w.bin"), []byte("weights"), 0o644); err != nil {
		t.Fatal(err)
	}
	model := &apiv1.RegisteredModel{}
	if err := c.Invoke("RegistryService/CreateRegisteredModel", &apiv1.CreateRegisteredModelRequest{
		Model: &apiv1.RegisteredModel{Project: "ml-research", Name: "ranker"}}, model); err != nil {
		t.Fatalf("CreateRegisteredModel: %v", err)
	}
	v, err := c.RegisterModelVersion(&apiv1.CreateModelVersionRequest{
		Project: "ml-research", Model: "ranker",
		Source: &apiv1.ModelVersionSource{Kind: apiv1.ModelSourceKind_MODEL_SOURCE_KIND_UPLOAD, Path: dir}})
	if err != nil {
		t.Fatalf("RegisterModelVersion: %v", err)
	}
	if v.GetVersion() != 1 || v.GetStatus() != apiv1.ModelVersionStatus_MODEL_VERSION_STATUS_READY {
		t.Fatalf("registered %v", v)
	}
	alias := &apiv1.SetModelAliasResponse{}
	if err := c.Invoke("RegistryService/SetModelAlias", &apiv1.SetModelAliasRequest{
		Project: "ml-research", Model: "ranker", Alias: "champion", Version: 1}, alias); err != nil {
		t.Fatalf("SetModelAlias: %v", err)
	}
	got, err := c.ResolveModel("models:/ml-research/ranker@champion")
	if err != nil || got.GetVersion() != 1 {
		t.Fatalf("ResolveModel: %v %v", got, err)
	}
	if _, err := c.ResolveModel("models:/ml-research/ranker@nope"); CodeOf(err) != NotFound {
		t.Fatalf("unknown alias: %v", err)
	}

	// Replay the log, stopping after three events.
	var types []apiv1.RegistryEventType
	after := int64(0)
	err = c.WatchRegistryEvents(context.Background(),
		&apiv1.WatchRegistryEventsRequest{Project: "ml-research", AfterSequence: &after},
		func(e *apiv1.RegistryEvent) bool {
			types = append(types, e.GetType())
			return len(types) < 3
		})
	if err != nil {
		t.Fatalf("WatchRegistryEvents: %v", err)
	}
	want := []apiv1.RegistryEventType{apiv1.RegistryEventType_REGISTRY_EVENT_TYPE_MODEL_CREATED,
		apiv1.RegistryEventType_REGISTRY_EVENT_TYPE_VERSION_CREATED,
		apiv1.RegistryEventType_REGISTRY_EVENT_TYPE_VERSION_READY}
	if len(types) != 3 || types[0] != want[0] || types[1] != want[1] || types[2] != want[2] {
		t.Fatalf("events %v, want %v", types, want)
	}

	// A watch of new events with nothing happening ends with its context.
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	err = c.WatchRegistryEvents(ctx, &apiv1.WatchRegistryEventsRequest{Project: "ml-research"},
		func(*apiv1.RegistryEvent) bool { return true })
	if CodeOf(err) != DeadlineExceeded {
		t.Fatalf("idle watch: %v", err)
	}
	err = c.WatchRegistryEvents(context.Background(), &apiv1.WatchRegistryEventsRequest{Project: "nope"},
		func(*apiv1.RegistryEvent) bool { return true })
	if CodeOf(err) != NotFound {
		t.Fatalf("unknown project: %v", err)
	}
	// The generic Stream with a unary method: its one response.
	n := 0
	err = c.Stream(context.Background(), "RegistryService/GetRegisteredModel",
		&apiv1.GetRegisteredModelRequest{Project: "ml-research", Name: "ranker"},
		func() proto.Message { return &apiv1.RegisteredModel{} },
		func(m proto.Message) bool { n++; return m.(*apiv1.RegisteredModel).GetLatestVersion() == 1 })
	if err != nil || n != 1 {
		t.Fatalf("Stream unary: %v, %d messages", err, n)
	}
}
