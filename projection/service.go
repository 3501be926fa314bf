package projection

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"
)

// The query service's identity on NATS.
const (
	// ServiceName is the micro service name (`nats micro ls`).
	ServiceName = "casestream-projection"
	// QueueGroup spreads requests over the projector replicas.
	QueueGroup = "casestream-projection"
	// SubjectPrefix is the prefix of every endpoint's subject, such as
	// casestream.projection.activeCases.
	SubjectPrefix = "casestream.projection"
)

// Endpoint names, each the last token of its subject.
const (
	EndpointActiveCases   = "activeCases"
	EndpointAssignedOpen  = "assignedOpen"
	EndpointOperatorCases = "operatorCases"
	EndpointNextWaiting   = "nextWaiting"
	EndpointQueuePosition = "queuePosition"
	EndpointCaseLookup    = "caseLookup"
)

// Error codes of the query service (micro's Nats-Service-Error-Code header).
const (
	// CodeBadRequest: the request body is not the endpoint's JSON request.
	CodeBadRequest = "400"
	// CodeNotCaughtUp: the projector did not reach the requested sequences within its wait.
	CodeNotCaughtUp = "503"
)

// Headers of an activeCases answer, whose body is the bare ActiveCase array.
const (
	HeaderOutcome     = "Casestream-Outcome"
	HeaderUnitID      = "Casestream-Unit-Id"
	HeaderWorkspaceID = "Casestream-Workspace-Id"
)

// DefaultWait bounds how long the service waits for the projector to catch up.
const DefaultWait = 2 * time.Second

// ServiceOptions configures NewService.
type ServiceOptions struct {
	// Wait bounds how long a request waits for the sequences it asks for; DefaultWait if zero.
	Wait time.Duration
	// Version is the micro service version; "1.0.0" if empty.
	Version string
}

// MinSeqs is what every request carries: the stream sequences the answer must reflect, taken
// by the api as each stream's last sequence when the HTTP request arrived.
type MinSeqs struct {
	MinCasesSeq     uint64 `json:"minCasesSeq"`
	MinDirectorySeq uint64 `json:"minDirectorySeq"`
}

// ActiveCasesRequest asks for ListActive of a user.
type ActiveCasesRequest struct {
	MinSeqs
	UserID string `json:"userId"`
}

// AssignedOpenRequest asks for Model.AssignedOpen of an operator.
type AssignedOpenRequest struct {
	MinSeqs
	OperatorID string `json:"operatorId"`
}

// OperatorCasesRequest asks for one page of Projector.OperatorCases of an operator: Page
// counts from 0, Size is 1 to MaxOperatorCases.
type OperatorCasesRequest struct {
	MinSeqs
	OperatorID string `json:"operatorId"`
	Page       int    `json:"page"`
	Size       int    `json:"size"`
}

// MaxOperatorCases bounds an operatorCases request's page size.
const MaxOperatorCases = 1000

// NextWaitingRequest asks for Model.NextWaiting.
type NextWaitingRequest struct {
	MinSeqs
	InboxIDs   []string `json:"inboxIds"`
	GroupNames []string `json:"groupNames"`
	Limit      int      `json:"limit"`
}

// QueuePositionRequest asks for Model.QueuePosition of a case.
type QueuePositionRequest struct {
	MinSeqs
	CaseInstanceID int64 `json:"caseInstanceId"`
}

// CaseLookupRequest asks for Model.CaseInstanceID of a caseId.
type CaseLookupRequest struct {
	MinSeqs
	CaseID string `json:"caseId"`
}

// CaseIDsResponse answers assignedOpen, operatorCases and nextWaiting.
type CaseIDsResponse struct {
	CaseInstanceIDs []int64 `json:"caseInstanceIds"`
}

// QueuePositionResponse answers queuePosition; Found is false for a case that is not Waiting.
type QueuePositionResponse struct {
	Position int  `json:"position"`
	Found    bool `json:"found"`
}

// CaseLookupResponse answers caseLookup.
type CaseLookupResponse struct {
	CaseInstanceID int64 `json:"caseInstanceId"`
	Found          bool  `json:"found"`
}

// maxNextWaiting bounds a nextWaiting request's limit.
const maxNextWaiting = 1000

// decodeRequest decodes a request body into v, which must carry MinSeqs.
func decodeRequest(data []byte, v any) error {
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("decode request: %w", err)
	}
	return nil
}

// answer is one reply: a body with headers, or an error code and description.
type answer struct {
	body    []byte
	headers micro.Headers
	code    string
	desc    string
}

func errorAnswer(code, desc string) answer { return answer{code: code, desc: desc} }

func jsonAnswer(v any) answer {
	b, err := json.Marshal(v)
	if err != nil {
		return errorAnswer("500", err.Error())
	}
	return answer{body: b}
}

// queryServer answers the endpoints of one projector.
type queryServer struct {
	nc   *nats.Conn
	p    *Projector
	wait time.Duration
}

// NewService registers the query service of p on nc: the endpoints activeCases,
// assignedOpen, operatorCases, nextWaiting, queuePosition and caseLookup under SubjectPrefix, in the queue
// group QueueGroup. Each request is answered once the projector has applied the request's
// minCasesSeq and minDirectorySeq, or with the error CodeNotCaughtUp after opts.Wait. A
// request that must wait is answered from its own goroutine, so that it holds up no other.
func NewService(nc *nats.Conn, p *Projector, opts ServiceOptions) (micro.Service, error) {
	if opts.Wait <= 0 {
		opts.Wait = DefaultWait
	}
	if opts.Version == "" {
		opts.Version = "1.0.0"
	}
	svc, err := micro.AddService(nc, micro.Config{
		Name:        ServiceName,
		Version:     opts.Version,
		Description: "casestream read model: active cases, assignments, queues",
		QueueGroup:  QueueGroup,
	})
	if err != nil {
		return nil, fmt.Errorf("projection: add service: %w", err)
	}
	s := &queryServer{nc: nc, p: p, wait: opts.Wait}
	g := svc.AddGroup(SubjectPrefix)
	endpoints := []struct {
		name string
		h    func([]byte) (MinSeqs, func() answer, error)
	}{
		{EndpointActiveCases, s.activeCases},
		{EndpointAssignedOpen, s.assignedOpen},
		{EndpointOperatorCases, s.operatorCases},
		{EndpointNextWaiting, s.nextWaiting},
		{EndpointQueuePosition, s.queuePosition},
		{EndpointCaseLookup, s.caseLookup},
	}
	for _, ep := range endpoints {
		if err := g.AddEndpoint(ep.name, s.handler(ep.h)); err != nil {
			_ = svc.Stop()
			return nil, fmt.Errorf("projection: add endpoint %s: %w", ep.name, err)
		}
	}
	return svc, nil
}

// handler adapts an endpoint: decode, wait until caught up, answer.
func (s *queryServer) handler(decode func([]byte) (MinSeqs, func() answer, error)) micro.HandlerFunc {
	return func(req micro.Request) {
		seqs, run, err := decode(req.Data())
		if err != nil {
			_ = req.Error(CodeBadRequest, err.Error(), nil)
			return
		}
		if s.p.CaughtUp(seqs.MinCasesSeq, seqs.MinDirectorySeq) {
			respond(req, run())
			return
		}
		// Waiting here would hold up every later request on this endpoint's subscription.
		// The reply is published directly, as micro's Request is not for use after the
		// handler returns; such replies do not show in the endpoint's stats.
		reply := req.Reply()
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), s.wait)
			defer cancel()
			a := errorAnswer(CodeNotCaughtUp, "not caught up")
			if s.p.WaitFor(ctx, seqs.MinCasesSeq, seqs.MinDirectorySeq) == nil {
				a = run()
			}
			s.publish(reply, a)
		}()
	}
}

func respond(req micro.Request, a answer) {
	if a.code != "" {
		_ = req.Error(a.code, a.desc, nil)
		return
	}
	_ = req.Respond(a.body, micro.WithHeaders(a.headers))
}

func (s *queryServer) publish(reply string, a answer) {
	if reply == "" {
		return
	}
	msg := &nats.Msg{Subject: reply, Data: a.body, Header: nats.Header(a.headers)}
	if a.code != "" {
		msg.Header = nats.Header{micro.ErrorHeader: {a.desc}, micro.ErrorCodeHeader: {a.code}}
	}
	_ = s.nc.PublishMsg(msg)
}

func (s *queryServer) activeCases(data []byte) (MinSeqs, func() answer, error) {
	var r ActiveCasesRequest
	if err := decodeRequest(data, &r); err != nil {
		return MinSeqs{}, nil, err
	}
	return r.MinSeqs, func() answer {
		res := s.p.ListActive(r.UserID)
		h := micro.Headers{HeaderOutcome: {res.Outcome.String()}}
		if res.UnitID != "" {
			h[HeaderUnitID] = []string{res.UnitID}
		}
		if res.WorkspaceID != "" {
			h[HeaderWorkspaceID] = []string{res.WorkspaceID}
		}
		return answer{body: res.Cases, headers: h}
	}, nil
}

func (s *queryServer) assignedOpen(data []byte) (MinSeqs, func() answer, error) {
	var r AssignedOpenRequest
	if err := decodeRequest(data, &r); err != nil {
		return MinSeqs{}, nil, err
	}
	return r.MinSeqs, func() answer {
		ids := s.p.model.AssignedOpen(r.OperatorID)
		if ids == nil {
			ids = []int64{}
		}
		return jsonAnswer(CaseIDsResponse{CaseInstanceIDs: ids})
	}, nil
}

func (s *queryServer) operatorCases(data []byte) (MinSeqs, func() answer, error) {
	var r OperatorCasesRequest
	if err := decodeRequest(data, &r); err != nil {
		return MinSeqs{}, nil, err
	}
	if r.Page < 0 || r.Size < 1 || r.Size > MaxOperatorCases {
		return MinSeqs{}, nil, fmt.Errorf("page %d or size %d out of range (page from 0, size 1..%d)", r.Page, r.Size, MaxOperatorCases)
	}
	return r.MinSeqs, func() answer {
		return jsonAnswer(CaseIDsResponse{CaseInstanceIDs: s.p.OperatorCases(r.OperatorID, r.Page, r.Size)})
	}, nil
}

func (s *queryServer) nextWaiting(data []byte) (MinSeqs, func() answer, error) {
	var r NextWaitingRequest
	if err := decodeRequest(data, &r); err != nil {
		return MinSeqs{}, nil, err
	}
	if r.Limit < 1 || r.Limit > maxNextWaiting {
		return MinSeqs{}, nil, fmt.Errorf("limit %d out of range 1..%d", r.Limit, maxNextWaiting)
	}
	return r.MinSeqs, func() answer {
		return jsonAnswer(CaseIDsResponse{CaseInstanceIDs: s.p.model.NextWaiting(r.InboxIDs, r.GroupNames, r.Limit)})
	}, nil
}

func (s *queryServer) queuePosition(data []byte) (MinSeqs, func() answer, error) {
	var r QueuePositionRequest
	if err := decodeRequest(data, &r); err != nil {
		return MinSeqs{}, nil, err
	}
	return r.MinSeqs, func() answer {
		pos, ok := s.p.model.QueuePosition(r.CaseInstanceID)
		return jsonAnswer(QueuePositionResponse{Position: pos, Found: ok})
	}, nil
}

func (s *queryServer) caseLookup(data []byte) (MinSeqs, func() answer, error) {
	var r CaseLookupRequest
	if err := decodeRequest(data, &r); err != nil {
		return MinSeqs{}, nil, err
	}
	return r.MinSeqs, func() answer {
		id, ok := s.p.model.CaseInstanceID(r.CaseID)
		return jsonAnswer(CaseLookupResponse{CaseInstanceID: id, Found: ok})
	}, nil
}

// ErrUnavailable means no projector answered: none runs, or none answered in time.
var ErrUnavailable = errors.New("projection: no projector answered")

// ErrNotCaughtUp means the projector did not reach the requested sequences within its wait:
// the API answers 503.
var ErrNotCaughtUp = errors.New("projection: not caught up")

// ServiceError is an error answer of the query service other than ErrNotCaughtUp.
type ServiceError struct {
	Code        string
	Description string
}

// Error implements error.
func (e *ServiceError) Error() string {
	return "projection: service error " + e.Code + ": " + e.Description
}

// Client calls the query service over NATS; the api uses it.
type Client struct {
	nc      *nats.Conn
	timeout time.Duration
}

// NewClient returns a client whose requests give up after timeout (or at their context's
// deadline, whichever comes first). Choose a timeout above the service's wait, so that a
// projector that cannot catch up answers ErrNotCaughtUp rather than nothing.
func NewClient(nc *nats.Conn, timeout time.Duration) *Client {
	return &Client{nc: nc, timeout: timeout}
}

func (c *Client) request(ctx context.Context, endpoint string, req any) (*nats.Msg, error) {
	body, err := json.Marshal(req)
	if err != nil {
		return nil, fmt.Errorf("projection: encode %s request: %w", endpoint, err)
	}
	if !c.nc.IsConnected() {
		// Fail at once: a request cannot be sent while NATS is away.
		return nil, fmt.Errorf("%w: %s: %w", ErrUnavailable, endpoint, nats.ErrDisconnected)
	}
	parent := ctx
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	msg, err := c.nc.RequestWithContext(ctx, SubjectPrefix+"."+endpoint, body)
	if err != nil {
		if parent.Err() == nil && (errors.Is(err, nats.ErrNoResponders) || errors.Is(err, nats.ErrTimeout) || errors.Is(err, context.DeadlineExceeded)) {
			return nil, fmt.Errorf("%w: %s: %w", ErrUnavailable, endpoint, err)
		}
		return nil, fmt.Errorf("projection: %s: %w", endpoint, err)
	}
	if code := msg.Header.Get(micro.ErrorCodeHeader); code != "" {
		if code == CodeNotCaughtUp {
			return nil, ErrNotCaughtUp
		}
		return nil, &ServiceError{Code: code, Description: msg.Header.Get(micro.ErrorHeader)}
	}
	return msg, nil
}

func (c *Client) requestJSON(ctx context.Context, endpoint string, req, resp any) error {
	msg, err := c.request(ctx, endpoint, req)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(msg.Data, resp); err != nil {
		return fmt.Errorf("projection: decode %s answer: %w", endpoint, err)
	}
	return nil
}

// ActiveCases asks for the listing of the user's active cases, reflecting at least the given
// sequences of CASES and DIRECTORY. The result's Cases are the bytes of the JSON array, to be
// passed through as the response body.
func (c *Client) ActiveCases(ctx context.Context, userID string, minCases, minDir uint64) (ListResult, error) {
	msg, err := c.request(ctx, EndpointActiveCases, ActiveCasesRequest{MinSeqs{minCases, minDir}, userID})
	if err != nil {
		return ListResult{}, err
	}
	o, ok := parseOutcome(msg.Header.Get(HeaderOutcome))
	if !ok {
		return ListResult{}, fmt.Errorf("projection: activeCases answer: outcome %q", msg.Header.Get(HeaderOutcome))
	}
	res := ListResult{Outcome: o, UnitID: msg.Header.Get(HeaderUnitID), WorkspaceID: msg.Header.Get(HeaderWorkspaceID)}
	if o == Listed {
		if len(msg.Data) == 0 {
			return ListResult{}, errors.New("projection: activeCases answer: empty listing")
		}
		res.Cases = json.RawMessage(msg.Data)
	}
	return res, nil
}

// AssignedOpen asks for the caseInstanceIds of the open cases assigned to the operator.
func (c *Client) AssignedOpen(ctx context.Context, operatorID string, minCases, minDir uint64) ([]int64, error) {
	var resp CaseIDsResponse
	err := c.requestJSON(ctx, EndpointAssignedOpen, AssignedOpenRequest{MinSeqs{minCases, minDir}, operatorID}, &resp)
	return resp.CaseInstanceIDs, err
}

// OperatorCases asks for one page (from 0, of size 1 to MaxOperatorCases) of the
// caseInstanceIds of the open cases the operator opened, is assigned, or that wait in one of
// the operator's groups, newest first (see Model.OperatorCases).
func (c *Client) OperatorCases(ctx context.Context, operatorID string, page, size int, minCases, minDir uint64) ([]int64, error) {
	var resp CaseIDsResponse
	err := c.requestJSON(ctx, EndpointOperatorCases, OperatorCasesRequest{MinSeqs{minCases, minDir}, operatorID, page, size}, &resp)
	return resp.CaseInstanceIDs, err
}

// NextWaiting asks for the oldest waiting cases of the inboxes and groups, at most limit
// (1 to 1000).
func (c *Client) NextWaiting(ctx context.Context, inboxIDs, groups []string, limit int, minCases, minDir uint64) ([]int64, error) {
	var resp CaseIDsResponse
	err := c.requestJSON(ctx, EndpointNextWaiting, NextWaitingRequest{MinSeqs{minCases, minDir}, inboxIDs, groups, limit}, &resp)
	return resp.CaseInstanceIDs, err
}

// QueuePosition asks for the 1-based position of a waiting case in its queue; false when the
// case is not waiting.
func (c *Client) QueuePosition(ctx context.Context, id int64, minCases, minDir uint64) (int, bool, error) {
	var resp QueuePositionResponse
	err := c.requestJSON(ctx, EndpointQueuePosition, QueuePositionRequest{MinSeqs{minCases, minDir}, id}, &resp)
	return resp.Position, resp.Found, err
}

// CaseLookup asks for the caseInstanceId of a caseId.
func (c *Client) CaseLookup(ctx context.Context, caseID string, minCases, minDir uint64) (int64, bool, error) {
	var resp CaseLookupResponse
	err := c.requestJSON(ctx, EndpointCaseLookup, CaseLookupRequest{MinSeqs{minCases, minDir}, caseID}, &resp)
	return resp.CaseInstanceID, resp.Found, err
}
