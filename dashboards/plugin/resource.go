package plugin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"

	"github.com/apiwatch/apiwatch/storage"
)

// TriageRequest is the body of POST /triage.
type TriageRequest struct {
	FindingID string `json:"finding_id"`
	Status    string `json:"status"` // open, acknowledged, false_positive
	Note      string `json:"note"`
	// User is who decided, when Grafana does not say: the signed-in
	// Grafana user, when there is one, is recorded instead.
	User string `json:"user"`
}

// TriageResponse is a finding's triage state, as POST and GET /triage
// return it.
type TriageResponse struct {
	FindingID string    `json:"finding_id"`
	Status    string    `json:"status"`
	Note      string    `json:"note"`
	User      string    `json:"user"`
	UpdatedAt time.Time `json:"updated_at"` // zero when never triaged
	Version   uint64    `json:"version"`
}

// SuppressionResponse is one element of GET /suppressions.
type SuppressionResponse struct {
	FindingID string    `json:"finding_id"`
	Detector  string    `json:"detector"`
	Kind      string    `json:"kind"`
	Endpoint  string    `json:"endpoint"`
	Actor     string    `json:"actor"`
	Subject   string    `json:"subject"`
	Note      string    `json:"note"`
	User      string    `json:"user"`
	At        time.Time `json:"at"`
}

// maxTriageBody bounds a POST /triage body.
const maxTriageBody = 64 << 10

// CallResource serves the resources (README.md):
//
//	POST /triage         {finding_id, status, note, user} → the stored state
//	GET  /triage?finding_id=ID[&finding_id=ID…] → their states
//	GET  /suppressions   the false positives' patterns
//
// Errors are JSON {"error": "..."} with a 4xx or 5xx status.
func (d *Datasource) CallResource(ctx context.Context, req *backend.CallResourceRequest, sender backend.CallResourceResponseSender) error {
	status, body := d.resource(ctx, req)
	b, err := json.Marshal(body)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":"encoding the response failed"}`)
	}
	return sender.Send(&backend.CallResourceResponse{
		Status:  status,
		Headers: map[string][]string{"Content-Type": {"application/json"}},
		Body:    b,
	})
}

type errorBody struct {
	Error string `json:"error"`
}

func failure(status int, format string, args ...any) (int, any) {
	return status, errorBody{Error: fmt.Sprintf(format, args...)}
}

func (d *Datasource) resource(ctx context.Context, req *backend.CallResourceRequest) (int, any) {
	path := strings.Trim(req.Path, "/")
	switch path {
	case "triage":
		switch req.Method {
		case http.MethodPost:
			return d.postTriage(ctx, req)
		case http.MethodGet:
			return d.getTriage(ctx, req)
		}
		return failure(http.StatusMethodNotAllowed, "%s /triage: use POST to triage, GET to read", req.Method)
	case "suppressions":
		if req.Method != http.MethodGet {
			return failure(http.StatusMethodNotAllowed, "%s /suppressions: use GET", req.Method)
		}
		return d.getSuppressions(ctx)
	}
	return failure(http.StatusNotFound, "no resource /%s: want /triage or /suppressions", path)
}

func (d *Datasource) postTriage(ctx context.Context, req *backend.CallResourceRequest) (int, any) {
	user := req.PluginContext.User
	if user != nil && strings.EqualFold(user.Role, "Viewer") {
		return failure(http.StatusForbidden, "triage: Grafana viewers cannot triage findings: an editor or admin can")
	}
	if len(req.Body) > maxTriageBody {
		return failure(http.StatusRequestEntityTooLarge, "triage: body of %d bytes: at most %d", len(req.Body), maxTriageBody)
	}
	var tr TriageRequest
	dec := json.NewDecoder(bytes.NewReader(req.Body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&tr); err != nil {
		return failure(http.StatusBadRequest, "triage: body: %v (want {\"finding_id\", \"status\", \"note\", \"user\"})", err)
	}
	if strings.TrimSpace(tr.FindingID) == "" {
		return failure(http.StatusBadRequest, "triage: no finding_id")
	}
	status, err := storage.ParseTriageStatus(tr.Status)
	if err != nil {
		return failure(http.StatusBadRequest, "%v", err)
	}
	who := tr.User
	if user != nil && user.Login != "" {
		who = user.Login
	}
	st, err := d.Store(ctx)
	if err != nil {
		return failure(http.StatusBadGateway, "%v", err)
	}
	state, err := st.Triage(ctx, storage.TriageUpdate{FindingID: strings.TrimSpace(tr.FindingID), Status: status, Note: tr.Note, User: who})
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return failure(http.StatusNotFound, "%v", err)
	case errors.Is(err, storage.ErrInvalidTriage):
		return failure(http.StatusBadRequest, "%v", err)
	case err != nil:
		return failure(http.StatusBadGateway, "%v", err)
	}
	return http.StatusOK, triageResponse(state)
}

func (d *Datasource) getTriage(ctx context.Context, req *backend.CallResourceRequest) (int, any) {
	u, err := url.Parse(req.URL)
	if err != nil {
		return failure(http.StatusBadRequest, "triage: URL %q: %v", req.URL, err)
	}
	ids := u.Query()["finding_id"]
	if len(ids) == 0 {
		return failure(http.StatusBadRequest, "GET /triage: give one or more ?finding_id=")
	}
	st, err := d.Store(ctx)
	if err != nil {
		return failure(http.StatusBadGateway, "%v", err)
	}
	states, err := st.Triaged(ctx, ids)
	if err != nil {
		return failure(http.StatusBadGateway, "%v", err)
	}
	out := make([]TriageResponse, 0, len(ids))
	for _, id := range ids {
		out = append(out, triageResponse(states[id]))
	}
	return http.StatusOK, out
}

func (d *Datasource) getSuppressions(ctx context.Context) (int, any) {
	st, err := d.Store(ctx)
	if err != nil {
		return failure(http.StatusBadGateway, "%v", err)
	}
	sup, err := st.Suppressions(ctx)
	if err != nil {
		return failure(http.StatusBadGateway, "%v", err)
	}
	out := make([]SuppressionResponse, 0, len(sup))
	for _, s := range sup {
		out = append(out, SuppressionResponse{FindingID: s.FindingID, Detector: s.Detector, Kind: s.Kind, Endpoint: s.Endpoint,
			Actor: s.Actor, Subject: s.Subject, Note: s.Note, User: s.User, At: s.At})
	}
	return http.StatusOK, out
}

func triageResponse(s storage.TriageState) TriageResponse {
	return TriageResponse{FindingID: s.FindingID, Status: string(s.Status), Note: s.Note, User: s.User, UpdatedAt: s.UpdatedAt, Version: s.Version}
}
