package providers

import (
	"context"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/keyway-sms/keyway/config"
)

// stub is a Provider with the routes given.
type stub struct {
	name   string
	routes []Route
}

func (s stub) Name() string                                   { return s.name }
func (s stub) Routes() []Route                                { return s.routes }
func (s stub) Parse(Route, *Request) (Batch, error)           { return Batch{}, nil }
func (s stub) Send(context.Context, Outbound) (string, error) { return "", nil }
func (s stub) DevNotice() string                              { return "" }

func post(path string, kind RouteKind) Route {
	return Route{Method: http.MethodPost, Path: path, Kind: kind}
}

func init() {
	// "regtest-on" is set up by its section; "regtest-off" never is.
	Register(Registration{Name: "regtest-on", New: func(cfg *config.Config, _ zerolog.Logger) (Provider, error) {
		if _, ok := cfg.Providers.Section("regtest-on"); !ok {
			return nil, nil
		}
		return stub{name: "regtest-on", routes: []Route{post("/webhooks/on", RouteInbound), post("/webhooks/on/status", RouteStatus)}}, nil
	}})
	Register(Registration{Name: "regtest-off", New: func(*config.Config, zerolog.Logger) (Provider, error) { return nil, nil }})
}

func TestBuild(t *testing.T) {
	if got := Registered(); !slices.Contains(got, "regtest-on") || !slices.Contains(got, "regtest-off") {
		t.Fatalf("Registered() = %v", got)
	}
	parse := func(src string) *config.Config {
		t.Helper()
		cfg, ps := config.Parse("k.yaml", []byte(src), nil)
		if err := ps.Err(); err != nil {
			t.Fatal(err)
		}
		return cfg
	}
	built, err := Build(parse("providers:\n  regtest-on: {}\n"), zerolog.New(io.Discard))
	if err != nil || len(built) != 1 || built[0].Name() != "regtest-on" {
		t.Fatalf("Build with the section = %v, %v; want regtest-on alone", built, err)
	}
	if built, err := Build(parse("automations: []\n"), zerolog.New(io.Discard)); err != nil || len(built) != 0 {
		t.Fatalf("Build without sections = %v, %v; want nothing", built, err)
	}
	if r, ok := StatusRoute(built[0]); !ok || r.Path != "/webhooks/on/status" {
		t.Errorf("StatusRoute = %+v, %v", r, ok)
	}
	if _, ok := StatusRoute(stub{name: "x", routes: []Route{post("/in", RouteInbound)}}); ok {
		t.Error("StatusRoute found a status route where there is none")
	}
}

func TestRegisterPanics(t *testing.T) {
	for name, r := range map[string]Registration{
		"no name": {New: func(*config.Config, zerolog.Logger) (Provider, error) { return nil, nil }},
		"no New":  {Name: "regtest-nonew"},
		"twice":   {Name: "regtest-on", New: func(*config.Config, zerolog.Logger) (Provider, error) { return nil, nil }},
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("no panic")
				}
			}()
			Register(r)
		})
	}
}

func TestCheckRoutes(t *testing.T) {
	a := stub{name: "a", routes: []Route{post("/webhooks/a", RouteInbound)}}
	tests := []struct {
		name    string
		ps      []Provider
		wantErr string
	}{
		{"distinct", []Provider{a, stub{name: "b", routes: []Route{post("/webhooks/b", RouteInbound)}}}, ""},
		{"same path, other method", []Provider{a, stub{name: "b", routes: []Route{{Method: http.MethodGet, Path: "/webhooks/a", Kind: RouteStatus}}}}, ""},
		{"same route twice", []Provider{a, stub{name: "b", routes: []Route{post("/webhooks/a", RouteStatus)}}}, "a and b both declare POST /webhooks/a"},
		{"no method", []Provider{stub{name: "c", routes: []Route{{Path: "/x", Kind: RouteInbound}}}}, "method"},
		{"lower-case method", []Provider{stub{name: "c", routes: []Route{{Method: "post", Path: "/x", Kind: RouteInbound}}}}, "method"},
		{"relative path", []Provider{stub{name: "c", routes: []Route{post("x", RouteInbound)}}}, "path must start with /"},
		{"unknown kind", []Provider{stub{name: "c", routes: []Route{post("/x", "voice")}}}, `unknown kind "voice"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckRoutes(tt.ps)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("CheckRoutes: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("CheckRoutes = %v, want an error with %q", err, tt.wantErr)
			}
		})
	}
}
