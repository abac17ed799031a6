// Package mlcore is the Go SDK of mlcore: a thin cgo layer over the C ABI (libmlcore.so, see
// libmlcore/include/mlcore.h). Entities are the Go types generated from proto/mlcore/v1 (package
// apiv1) and travel across the ABI as proto3 JSON, so nothing is declared twice.
//
// Build: cgo needs the header and the library. From the repository,
//
//	CGO_CFLAGS="-I$PWD/libmlcore/include" \
//	CGO_LDFLAGS="-L$PWD/build/dev/libmlcore -Wl,-rpath,$PWD/build/dev/libmlcore" go test ./...
//
// (scripts/test.sh does exactly this). A Client is safe for concurrent use.
package mlcore

/*
#cgo CFLAGS: -I${SRCDIR}/../../libmlcore/include
#cgo LDFLAGS: -lmlcore
#include <stdlib.h>
#include "mlcore.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"runtime"
	"sync"
	"unsafe"

	"github.com/mlcore/mlcore/go/apiv1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// Code is a canonical status code (gRPC's numbering).
type Code int

// The canonical codes.
const (
	OK                 Code = 0
	Cancelled          Code = 1
	Unknown            Code = 2
	InvalidArgument    Code = 3
	DeadlineExceeded   Code = 4
	NotFound           Code = 5
	AlreadyExists      Code = 6
	PermissionDenied   Code = 7
	ResourceExhausted  Code = 8
	FailedPrecondition Code = 9
	Aborted            Code = 10
	OutOfRange         Code = 11
	Unimplemented      Code = 12
	Internal           Code = 13
	Unavailable        Code = 14
	DataLoss           Code = 15
	Unauthenticated    Code = 16
)

// String returns the canonical name ("NOT_FOUND").
func (c Code) String() string { return C.GoString(C.mlc_status_name(C.mlc_status(c))) }

// Error is an error returned by mlcore, with its code and the core's message.
type Error struct {
	Code    Code
	Message string
	cause   error // what stopped the call on the Go side (ctx.Err()), if anything
}

func (e *Error) Error() string { return fmt.Sprintf("%s [%s]", e.Message, e.Code) }

// Unwrap returns the Go error behind e (context.Canceled when a context stopped the call), or nil.
func (e *Error) Unwrap() error { return e.cause }

// JSON across the ABI: unknown fields from a newer libmlcore are ignored, so an older Go package
// keeps working against it.
var (
	marshal   = protojson.Marshal
	unmarshal = protojson.UnmarshalOptions{DiscardUnknown: true}.Unmarshal
)

// CodeOf returns the Code of an error returned by this package (OK for nil, Unknown for others).
func CodeOf(err error) Code {
	if err == nil {
		return OK
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return Unknown
}

// Version is the version of the linked libmlcore.
func Version() string { return C.GoString(C.mlc_version()) }

// Client is a connection to an mlcore backend.
type Client struct {
	mu sync.RWMutex // guards c against Close during calls
	c  *C.mlc_client
}

func takeError(status C.mlc_status, cerr *C.mlc_error) error {
	if status == C.MLC_OK {
		return nil
	}
	e := &Error{Code: Code(status)}
	if cerr != nil {
		e.Message = C.GoString(C.mlc_error_message(cerr))
		C.mlc_error_free(&cerr)
	}
	return e
}

func cstring(s string) *C.char {
	if s == "" {
		return nil
	}
	return C.CString(s)
}

// Open opens a client. Empty backend or project are resolved like the CLI does: MLC_BACKEND /
// MLC_PROJECT, the config file's context, then local://$XDG_DATA_HOME/mlcore.
func Open(backend, project string) (*Client, error) {
	cb, cp := cstring(backend), cstring(project)
	defer C.free(unsafe.Pointer(cb))
	defer C.free(unsafe.Pointer(cp))
	var handle *C.mlc_client
	var cerr *C.mlc_error
	if err := takeError(C.mlc_client_open(cb, cp, &handle, &cerr), cerr); err != nil {
		return nil, err
	}
	client := &Client{c: handle}
	runtime.SetFinalizer(client, func(c *Client) { _ = c.Close() })
	return client, nil
}

// Close releases the client; further calls return a FailedPrecondition error.
func (c *Client) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	C.mlc_client_close(&c.c)
	return nil
}

func (c *Client) handle() (*C.mlc_client, error) {
	if c.c == nil {
		return nil, &Error{Code: FailedPrecondition, Message: "the client is closed; open a new one"}
	}
	return c.c, nil
}

// Project returns the client's default project ("" when none).
func (c *Client) Project() (string, error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	h, err := c.handle()
	if err != nil {
		return "", err
	}
	var out *C.char
	var cerr *C.mlc_error
	if err := takeError(C.mlc_client_project(h, &out, &cerr), cerr); err != nil {
		return "", err
	}
	defer C.mlc_string_free(&out)
	return C.GoString(out), nil
}

// Invoke calls any API method by name ("ProjectService/ListProjects") with a request message and
// fills the response message.
func (c *Client) Invoke(method string, request, response proto.Message) error {
	body, err := marshal(request)
	if err != nil {
		return &Error{Code: InvalidArgument, Message: "cannot encode request: " + err.Error()}
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	h, err := c.handle()
	if err != nil {
		return err
	}
	cm, cb := C.CString(method), C.CString(string(body))
	defer C.free(unsafe.Pointer(cm))
	defer C.free(unsafe.Pointer(cb))
	var out *C.char
	var cerr *C.mlc_error
	if err := takeError(C.mlc_invoke(h, cm, cb, &out, &cerr), cerr); err != nil {
		return err
	}
	defer C.mlc_string_free(&out)
	if err := unmarshal([]byte(C.GoString(out)), response); err != nil {
		return &Error{Code: Internal, Message: "cannot decode response of " + method + ": " + err.Error()}
	}
	return nil
}

// BackendInfo describes the backend and its capabilities.
func (c *Client) BackendInfo() (*apiv1.BackendInfo, error) {
	out := &apiv1.BackendInfo{}
	return out, c.Invoke("SystemService/GetBackendInfo", &apiv1.GetBackendInfoRequest{}, out)
}

// CreateProject creates a project.
func (c *Client) CreateProject(p *apiv1.Project) (*apiv1.Project, error) {
	out := &apiv1.Project{}
	return out, c.Invoke("ProjectService/CreateProject", &apiv1.CreateProjectRequest{Project: p}, out)
}

// GetProject describes a project; the error's code is NotFound when it does not exist.
func (c *Client) GetProject(name string) (*apiv1.Project, error) {
	out := &apiv1.Project{}
	return out, c.Invoke("ProjectService/GetProject", &apiv1.GetProjectRequest{Name: name}, out)
}

// ListProjects returns every project (all pages), ordered by name.
func (c *Client) ListProjects() ([]*apiv1.Project, error) {
	var all []*apiv1.Project
	req := &apiv1.ListProjectsRequest{PageSize: 1000}
	for {
		page := &apiv1.ListProjectsResponse{}
		if err := c.Invoke("ProjectService/ListProjects", req, page); err != nil {
			return nil, err
		}
		all = append(all, page.Projects...)
		if page.NextPageToken == "" {
			return all, nil
		}
		req.PageToken = page.NextPageToken
	}
}

// DeleteProject deletes an empty project.
func (c *Client) DeleteProject(name string) error {
	return c.Invoke("ProjectService/DeleteProject", &apiv1.DeleteProjectRequest{Name: name},
		&apiv1.DeleteProjectResponse{})
}
