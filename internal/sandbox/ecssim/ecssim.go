// Package ecssim is the ECS stand-in of the local AWS sandbox: UpdateService and
// DescribeServices over JSON 1.1 (X-Amz-Target: AmazonEC2ContainerServiceV20141113.<Op>),
// well enough for the real aws-sdk-go-v2 ecs client, with ECS's errors
// (ClusterNotFoundException, ServiceNotFoundException, ServiceNotActiveException,
// InvalidParameterException) in the {"__type", "message"} shape.
//
// Clusters and services are created from Go (CreateService). UpdateService with
// forceNewDeployment adds a PRIMARY deployment and turns the previous one ACTIVE; a deployment
// completes Options.DeployFor after it was created (by the injected clock), and then the
// older ones are drained away, as ECS does. The package starts no goroutines; every request
// is counted in the shared calls.Registry first, and an injected fault changes no state.
package ecssim

import (
	"github.com/certferry/certferry/internal/sandbox/internal/wire"

	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/certferry/certferry/internal/sandbox/calls"
)

const (
	serviceName = "ecs"
	// TargetPrefix is the X-Amz-Target prefix of ECS operations.
	TargetPrefix = "AmazonEC2ContainerServiceV20141113."

	maxBody = 1 << 20
)

// Options configures a Service.
type Options struct {
	Calls     *calls.Registry // required
	Region    string          // default us-east-1
	AccountID string          // default 123456789012
	Now       func() time.Time
	DeployFor time.Duration // how long a deployment is IN_PROGRESS (default 5m)
}

// Service is the in-memory ECS. It is safe for concurrent use.
type Service struct {
	calls *calls.Registry
	opts  Options

	mu       sync.Mutex
	clusters map[string]*cluster
}

type cluster struct {
	name, arn string
	services  map[string]*service
}

type service struct {
	name, arn, cluster, taskDef, status string
	desired                             int
	created                             time.Time
	deployments                         []*deployment // newest first
}

type deployment struct {
	id, taskDef      string
	desired          int
	created, updated time.Time
}

// New returns a Service with no cluster. It panics if opts.Calls is nil.
func New(opts Options) *Service {
	if opts.Calls == nil {
		panic("ecssim: New: Options.Calls is required")
	}
	if opts.Region == "" {
		opts.Region = "us-east-1"
	}
	if opts.AccountID == "" {
		opts.AccountID = "123456789012"
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.DeployFor == 0 {
		opts.DeployFor = 5 * time.Minute
	}
	return &Service{calls: opts.Calls, opts: opts, clusters: map[string]*cluster{}}
}

func (s *Service) arn(kind, name string) string {
	return fmt.Sprintf("arn:aws:ecs:%s:%s:%s/%s", s.opts.Region, s.opts.AccountID, kind, name)
}

// CreateService creates an ACTIVE service (and its cluster, if new) with one completed
// deployment. It returns the service's ARN; creating an existing service changes nothing.
func (s *Service) CreateService(clusterName, serviceName string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.clusters[clusterName]
	if c == nil {
		c = &cluster{name: clusterName, arn: s.arn("cluster", clusterName), services: map[string]*service{}}
		s.clusters[clusterName] = c
	}
	if sv := c.services[serviceName]; sv != nil {
		return sv.arn
	}
	now := s.opts.Now()
	td := s.arn("task-definition", serviceName+":1")
	sv := &service{
		name: serviceName, arn: s.arn("service", clusterName+"/"+serviceName), cluster: c.arn,
		taskDef: td, status: "ACTIVE", desired: 1, created: now,
		// Created long enough ago that the first deployment has completed.
		deployments: []*deployment{{id: deploymentID(), taskDef: td, desired: 1, created: now.Add(-s.opts.DeployFor), updated: now}},
	}
	c.services[serviceName] = sv
	return sv.arn
}

// DeleteService marks a service INACTIVE, as ECS does after DeleteService.
func (s *Service) DeleteService(clusterName, serviceName string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c := s.clusters[clusterName]; c != nil {
		if sv := c.services[serviceName]; sv != nil {
			sv.status = "INACTIVE"
		}
	}
}

// Deployments returns the IDs of the service's deployments, newest (PRIMARY) first.
func (s *Service) Deployments(clusterName, serviceName string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.clusters[clusterName]
	if c == nil || c.services[serviceName] == nil {
		return nil
	}
	sv := c.services[serviceName]
	s.drain(sv, s.opts.Now())
	var ids []string
	for _, d := range sv.deployments {
		ids = append(ids, d.id)
	}
	return ids
}

// drain removes the older deployments once the PRIMARY one has completed.
func (s *Service) drain(sv *service, now time.Time) {
	if len(sv.deployments) > 1 && !now.Before(sv.deployments[0].created.Add(s.opts.DeployFor)) {
		sv.deployments = sv.deployments[:1]
	}
}

type apiError struct {
	status int
	code   string
	msg    string
}

// faultStatuses are the HTTP statuses ECS answers these codes with (injected faults with
// no status of their own); its other errors are 400s.
var faultStatuses = map[string]int{
	"ServerException":    http.StatusInternalServerError,
	"InternalFailure":    http.StatusInternalServerError,
	"ServiceUnavailable": http.StatusServiceUnavailable,
}

func clientErr(code, format string, args ...any) *apiError {
	return &apiError{status: http.StatusBadRequest, code: code, msg: fmt.Sprintf(format, args...)}
}

// ServeHTTP answers one JSON 1.1 request.
func (s *Service) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	target := r.Header.Get("X-Amz-Target")
	op, ok := strings.CutPrefix(target, TargetPrefix)
	if !ok {
		op = target
	}
	if f, faulted := s.calls.Record(serviceName, op); faulted && wire.HoldJSON11Fault(w, r, f, faultStatuses, "message") {
		return
	}
	if !ok || r.Method != http.MethodPost {
		writeError(w, clientErr("UnknownOperationException", "Unknown operation %s", target))
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		writeError(w, clientErr("SerializationException", "could not read the request body"))
		return
	}
	if strings.TrimSpace(string(body)) == "" {
		body = []byte("{}")
	}
	var out any
	var aerr *apiError
	s.mu.Lock()
	now := s.opts.Now()
	switch op {
	case "UpdateService":
		out, aerr = s.updateService(now, body)
	case "DescribeServices":
		out, aerr = s.describeServices(now, body)
	default:
		aerr = clientErr("UnknownOperationException", "Unknown operation %s", target)
	}
	s.mu.Unlock()
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	buf, err := json.Marshal(out)
	if err != nil {
		writeError(w, &apiError{status: http.StatusInternalServerError, code: "ServerException", msg: "ecssim: encode response"})
		return
	}
	wire.WriteJSON11(w, http.StatusOK, buf)
}

func writeError(w http.ResponseWriter, e *apiError) {
	wire.WriteJSON11Error(w, e.status, e.code, "message", e.msg)
}

func decode(body []byte, v any) *apiError {
	if err := json.Unmarshal(body, v); err != nil {
		return clientErr("SerializationException", "Malformed JSON request body")
	}
	return nil
}

// findCluster accepts a name or an ARN; empty means "default".
func (s *Service) findCluster(ref string) (*cluster, *apiError) {
	if ref == "" {
		ref = "default"
	}
	name := ref
	if strings.HasPrefix(ref, "arn:") {
		_, name, _ = strings.Cut(ref, ":cluster/")
	}
	c := s.clusters[name]
	if c == nil {
		return nil, clientErr("ClusterNotFoundException", "Cluster not found.")
	}
	return c, nil
}

// serviceName accepts a name or an ARN (arn:...:service/cluster/name or the older
// arn:...:service/name).
func serviceRefName(ref string) string {
	if strings.HasPrefix(ref, "arn:") {
		if _, rest, ok := strings.Cut(ref, ":service/"); ok {
			if i := strings.LastIndexByte(rest, '/'); i >= 0 {
				return rest[i+1:]
			}
			return rest
		}
	}
	return ref
}

type epoch time.Time

func (e epoch) MarshalJSON() ([]byte, error) {
	return []byte(strconv.FormatFloat(float64(time.Time(e).UnixMilli())/1000, 'f', -1, 64)), nil
}

type jsonDeployment struct {
	ID             string `json:"id"`
	Status         string `json:"status"`
	TaskDefinition string `json:"taskDefinition"`
	DesiredCount   int    `json:"desiredCount"`
	PendingCount   int    `json:"pendingCount"`
	RunningCount   int    `json:"runningCount"`
	CreatedAt      epoch  `json:"createdAt"`
	UpdatedAt      epoch  `json:"updatedAt"`
	LaunchType     string `json:"launchType"`
	RolloutState   string `json:"rolloutState"`
	RolloutReason  string `json:"rolloutStateReason"`
}

type jsonService struct {
	ServiceArn     string           `json:"serviceArn"`
	ServiceName    string           `json:"serviceName"`
	ClusterArn     string           `json:"clusterArn"`
	Status         string           `json:"status"`
	DesiredCount   int              `json:"desiredCount"`
	RunningCount   int              `json:"runningCount"`
	PendingCount   int              `json:"pendingCount"`
	LaunchType     string           `json:"launchType"`
	TaskDefinition string           `json:"taskDefinition"`
	Deployments    []jsonDeployment `json:"deployments"`
	CreatedAt      epoch            `json:"createdAt"`
}

func (s *Service) render(sv *service, now time.Time) jsonService {
	s.drain(sv, now)
	out := jsonService{
		ServiceArn: sv.arn, ServiceName: sv.name, ClusterArn: sv.cluster, Status: sv.status,
		DesiredCount: sv.desired, RunningCount: sv.desired, LaunchType: "FARGATE",
		TaskDefinition: sv.taskDef, CreatedAt: epoch(sv.created), Deployments: []jsonDeployment{},
	}
	for i, d := range sv.deployments {
		jd := jsonDeployment{
			ID: d.id, Status: "ACTIVE", TaskDefinition: d.taskDef, DesiredCount: d.desired,
			RunningCount: d.desired, CreatedAt: epoch(d.created), UpdatedAt: epoch(d.updated),
			LaunchType: "FARGATE", RolloutState: "COMPLETED",
			RolloutReason: "ECS deployment " + d.id + " completed.",
		}
		if i == 0 {
			jd.Status = "PRIMARY"
			if now.Before(d.created.Add(s.opts.DeployFor)) {
				jd.RolloutState, jd.RolloutReason = "IN_PROGRESS", "ECS deployment "+d.id+" in progress."
				jd.RunningCount, jd.PendingCount = 0, d.desired
			}
		}
		out.Deployments = append(out.Deployments, jd)
	}
	return out
}

func (s *Service) updateService(now time.Time, body []byte) (any, *apiError) {
	var in struct {
		Cluster            string `json:"cluster"`
		Service            string `json:"service"`
		ForceNewDeployment bool   `json:"forceNewDeployment"`
		DesiredCount       *int   `json:"desiredCount"`
		TaskDefinition     string `json:"taskDefinition"`
	}
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	if in.Service == "" {
		return nil, clientErr("InvalidParameterException", "Service cannot be empty.")
	}
	c, e := s.findCluster(in.Cluster)
	if e != nil {
		return nil, e
	}
	sv := c.services[serviceRefName(in.Service)]
	if sv == nil {
		return nil, clientErr("ServiceNotFoundException", "Service not found.")
	}
	if sv.status != "ACTIVE" {
		return nil, clientErr("ServiceNotActiveException", "Service was not ACTIVE.")
	}
	if in.DesiredCount != nil {
		if *in.DesiredCount < 0 {
			return nil, clientErr("InvalidParameterException", "Desired count must be non-negative.")
		}
		sv.desired = *in.DesiredCount
	}
	changed := false
	if in.TaskDefinition != "" && in.TaskDefinition != sv.taskDef {
		sv.taskDef, changed = in.TaskDefinition, true
	}
	if in.ForceNewDeployment || changed {
		s.drain(sv, now)
		d := &deployment{id: deploymentID(), taskDef: sv.taskDef, desired: sv.desired, created: now, updated: now}
		sv.deployments = append([]*deployment{d}, sv.deployments...)
	}
	return struct {
		Service jsonService `json:"service"`
	}{s.render(sv, now)}, nil
}

func (s *Service) describeServices(now time.Time, body []byte) (any, *apiError) {
	var in struct {
		Cluster  string   `json:"cluster"`
		Services []string `json:"services"`
	}
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	if len(in.Services) == 0 || len(in.Services) > 10 {
		return nil, clientErr("InvalidParameterException", "services must contain between 1 and 10 names.")
	}
	c, e := s.findCluster(in.Cluster)
	if e != nil {
		return nil, e
	}
	type failure struct {
		Arn    string `json:"arn"`
		Reason string `json:"reason"`
	}
	out := struct {
		Services []jsonService `json:"services"`
		Failures []failure     `json:"failures"`
	}{Services: []jsonService{}, Failures: []failure{}}
	for _, ref := range in.Services {
		sv := c.services[serviceRefName(ref)]
		if sv == nil {
			arn := ref
			if !strings.HasPrefix(ref, "arn:") {
				arn = s.arn("service", c.name+"/"+ref)
			}
			out.Failures = append(out.Failures, failure{Arn: arn, Reason: "MISSING"})
			continue
		}
		out.Services = append(out.Services, s.render(sv, now))
	}
	return out, nil
}

// deploymentID returns an ID in ECS's "ecs-svc/<19 digits>" form.
func deploymentID() string {
	n, _ := rand.Int(rand.Reader, new(big.Int).Exp(big.NewInt(10), big.NewInt(19), nil))
	return fmt.Sprintf("ecs-svc/%019d", n)
}
