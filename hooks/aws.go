package hooks

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/smithy-go"
	"go.uber.org/zap"

	"github.com/certferry/certferry/config"
)

// ASGAPI is the part of the Auto Scaling client the asg_instance_refresh hook uses
// (*autoscaling.Client satisfies it).
type ASGAPI interface {
	StartInstanceRefresh(context.Context, *autoscaling.StartInstanceRefreshInput, ...func(*autoscaling.Options)) (*autoscaling.StartInstanceRefreshOutput, error)
	DescribeInstanceRefreshes(context.Context, *autoscaling.DescribeInstanceRefreshesInput, ...func(*autoscaling.Options)) (*autoscaling.DescribeInstanceRefreshesOutput, error)
	CancelInstanceRefresh(context.Context, *autoscaling.CancelInstanceRefreshInput, ...func(*autoscaling.Options)) (*autoscaling.CancelInstanceRefreshOutput, error)
}

// ECSAPI is the part of the ECS client the ecs_redeploy hook uses (*ecs.Client satisfies it).
type ECSAPI interface {
	UpdateService(context.Context, *ecs.UpdateServiceInput, ...func(*ecs.Options)) (*ecs.UpdateServiceOutput, error)
}

var (
	_ ASGAPI = (*autoscaling.Client)(nil)
	_ ECSAPI = (*ecs.Client)(nil)
)

func errorCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// ASGRefresh starts an instance refresh of an Auto Scaling group, so that new instances read
// the new secret version at boot.
//
// When the group already has an active refresh (InstanceRefreshInProgress), the hook looks at
// it (DescribeInstanceRefreshes):
//   - Pending or InProgress, started at or after Event.StoredAt, without SkipMatching: every
//     instance it launches reads the new version, so the hook counts it as its own and succeeds;
//   - Pending or InProgress, started before (or skipping matching instances), a plain refresh
//     (no DesiredConfiguration): instances it already replaced read the old version, so the hook cancels
//     it, waits (polling, within its timeout) until it has stopped, and starts a new one.
//     Cancelling loses nothing here: a plain refresh only re-launches the group's current
//     configuration, which the new refresh launches too, and cancelling rolls nothing back;
//   - Cancelling: the hook waits until it has stopped and starts a new one;
//   - otherwise (an older refresh carrying a DesiredConfiguration, a rollback, a bake): someone else's deployment that a cancel would undo. The hook does not
//     touch it and fails with a retryable error; the next pass tries again, by when it has
//     usually finished. Waiting for it here would hold the pass for up to its whole duration.
type ASGRefresh struct {
	group      string
	minHealthy int32
	timeout    time.Duration
	api        ASGAPI
	now        func() time.Time
	poll       time.Duration
	log        *zap.Logger
	name       string
}

var _ Hook = (*ASGRefresh)(nil)

func newASG(h config.Hook, d Deps) (*ASGRefresh, error) {
	if d.ASG == nil {
		return nil, errors.New("asg_instance_refresh: no Auto Scaling client (Deps.ASG)")
	}
	a := h.ASGInstanceRefresh
	if a.Name == "" {
		return nil, errors.New("asg_instance_refresh: name is empty")
	}
	name := config.HookASGInstanceRefresh + ":" + a.Name
	return &ASGRefresh{
		group:      a.Name,
		minHealthy: int32(a.MinHealthyPercentage),
		timeout:    timeoutOr(h.Timeout, config.DefaultAWSHookTimeout),
		api:        d.ASG,
		now:        d.Now,
		poll:       d.PollInterval,
		log:        d.Logger.Named("hooks").With(zap.String("hook", name)),
		name:       name,
	}, nil
}

// Name returns "asg_instance_refresh:" and the group's name.
func (a *ASGRefresh) Name() string { return a.name }

// Run starts the refresh (see the type's comment for a refresh already running).
func (a *ASGRefresh) Run(ctx context.Context, ev Event) error {
	ctx, cancel := context.WithTimeout(ctx, a.timeout)
	defer cancel()
	log := a.log.With(zap.String("cert", ev.Name), zap.String("version_id", ev.VersionID))
	storedAt := ev.StoredAt
	if storedAt.IsZero() {
		storedAt = a.now()
	}
	// Three rounds: start; cancel a stale refresh and start; a race with another starter.
	for round := 0; round < 3; round++ {
		out, err := a.api.StartInstanceRefresh(ctx, &autoscaling.StartInstanceRefreshInput{
			AutoScalingGroupName: aws.String(a.group),
			Preferences:          &astypes.RefreshPreferences{MinHealthyPercentage: aws.Int32(a.minHealthy)},
		})
		if err == nil {
			log.Info("instance refresh started", zap.String("instance_refresh_id", aws.ToString(out.InstanceRefreshId)))
			return nil
		}
		switch code := errorCode(err); code {
		case "InstanceRefreshInProgress":
		case "ValidationError":
			return fmt.Errorf("hooks: %s: start instance refresh of group %q: %w", a.name, a.group, &PermanentError{err})
		default:
			return fmt.Errorf("hooks: %s: start instance refresh of group %q: %w", a.name, a.group, err)
		}

		active, err := a.active(ctx)
		if err != nil {
			return err
		}
		if active == nil {
			continue // it finished between the two calls
		}
		id := aws.ToString(active.InstanceRefreshId)
		started := aws.ToTime(active.StartTime)
		running := active.Status == astypes.InstanceRefreshStatusPending || active.Status == astypes.InstanceRefreshStatusInProgress
		skips := active.Preferences != nil && aws.ToBool(active.Preferences.SkipMatching)
		fields := []zap.Field{zap.String("instance_refresh_id", id), zap.String("status", string(active.Status)), zap.Time("started", started)}
		switch {
		case running && !skips && !started.Before(storedAt):
			log.Info("an instance refresh started after the new version is running; counting it", fields...)
			return nil
		case running && active.DesiredConfiguration == nil:
			log.Info("cancelling an instance refresh that started before the new version", fields...)
			if _, err := a.api.CancelInstanceRefresh(ctx, &autoscaling.CancelInstanceRefreshInput{AutoScalingGroupName: aws.String(a.group)}); err != nil && errorCode(err) != "ActiveInstanceRefreshNotFound" {
				return fmt.Errorf("hooks: %s: cancel stale instance refresh %s of group %q: %w", a.name, id, a.group, err)
			}
			if err := a.waitStopped(ctx, id); err != nil {
				return err
			}
		case active.Status == astypes.InstanceRefreshStatusCancelling:
			if err := a.waitStopped(ctx, id); err != nil {
				return err
			}
		default:
			return fmt.Errorf("hooks: %s: group %q has instance refresh %s (%s, started %s) that this hook must not cancel; retrying on the next pass",
				a.name, a.group, id, active.Status, started.UTC().Format(time.RFC3339))
		}
	}
	return fmt.Errorf("hooks: %s: group %q: instance refreshes keep starting concurrently; retrying on the next pass", a.name, a.group)
}

func activeStatus(s astypes.InstanceRefreshStatus) bool {
	switch s {
	case astypes.InstanceRefreshStatusPending, astypes.InstanceRefreshStatusInProgress,
		astypes.InstanceRefreshStatusCancelling, astypes.InstanceRefreshStatusRollbackInProgress,
		astypes.InstanceRefreshStatusBaking:
		return true
	}
	return false
}

// active returns the group's active instance refresh, nil if none. DescribeInstanceRefreshes
// lists the most recent first, and a group has at most one active refresh, so the first page
// is enough.
func (a *ASGRefresh) active(ctx context.Context) (*astypes.InstanceRefresh, error) {
	out, err := a.api.DescribeInstanceRefreshes(ctx, &autoscaling.DescribeInstanceRefreshesInput{
		AutoScalingGroupName: aws.String(a.group),
		MaxRecords:           aws.Int32(10),
	})
	if err != nil {
		return nil, fmt.Errorf("hooks: %s: describe instance refreshes of group %q: %w", a.name, a.group, err)
	}
	for i := range out.InstanceRefreshes {
		if activeStatus(out.InstanceRefreshes[i].Status) {
			return &out.InstanceRefreshes[i], nil
		}
	}
	return nil, nil
}

// waitStopped polls until refresh id is no longer active, bounded by ctx (the hook's timeout).
func (a *ASGRefresh) waitStopped(ctx context.Context, id string) error {
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return fmt.Errorf("hooks: %s: waiting for instance refresh %s of group %q to stop: %w", a.name, id, a.group, ctx.Err())
		case <-t.C:
		}
		out, err := a.api.DescribeInstanceRefreshes(ctx, &autoscaling.DescribeInstanceRefreshesInput{
			AutoScalingGroupName: aws.String(a.group),
			InstanceRefreshIds:   []string{id},
		})
		if err != nil {
			return fmt.Errorf("hooks: %s: describe instance refresh %s of group %q: %w", a.name, id, a.group, err)
		}
		if len(out.InstanceRefreshes) == 0 || !activeStatus(out.InstanceRefreshes[0].Status) {
			return nil
		}
		t.Reset(a.poll)
	}
}

// ECSRedeploy forces a new deployment of an ECS service (UpdateService with
// forceNewDeployment), so that new tasks read the new secret version at start. It does not
// wait for the deployment to finish. A missing cluster or service, or an inactive service, is
// a permanent error naming it.
type ECSRedeploy struct {
	cluster, service string
	timeout          time.Duration
	api              ECSAPI
	log              *zap.Logger
	name             string
}

var _ Hook = (*ECSRedeploy)(nil)

func newECS(h config.Hook, d Deps) (*ECSRedeploy, error) {
	if d.ECS == nil {
		return nil, errors.New("ecs_redeploy: no ECS client (Deps.ECS)")
	}
	e := h.ECSRedeploy
	if e.Service == "" {
		return nil, errors.New("ecs_redeploy: service is empty")
	}
	name := config.HookECSRedeploy + ":" + e.Cluster + "/" + e.Service
	return &ECSRedeploy{
		cluster: e.Cluster,
		service: e.Service,
		timeout: timeoutOr(h.Timeout, config.DefaultAWSHookTimeout),
		api:     d.ECS,
		log:     d.Logger.Named("hooks").With(zap.String("hook", name)),
		name:    name,
	}, nil
}

// Name returns "ecs_redeploy:" and cluster/service.
func (e *ECSRedeploy) Name() string { return e.name }

// Run forces the new deployment.
func (e *ECSRedeploy) Run(ctx context.Context, ev Event) error {
	ctx, cancel := context.WithTimeout(ctx, e.timeout)
	defer cancel()
	in := &ecs.UpdateServiceInput{Service: aws.String(e.service), ForceNewDeployment: true}
	if e.cluster != "" {
		in.Cluster = aws.String(e.cluster)
	}
	out, err := e.api.UpdateService(ctx, in)
	if err != nil {
		err = fmt.Errorf("hooks: %s: update service %q in cluster %q: %w", e.name, e.service, e.cluster, err)
		switch errorCode(err) {
		case "ServiceNotFoundException", "ClusterNotFoundException", "ServiceNotActiveException", "InvalidParameterException":
			return &PermanentError{err}
		}
		return err
	}
	deployment := ""
	if out.Service != nil {
		for _, d := range out.Service.Deployments {
			if aws.ToString(d.Status) == "PRIMARY" {
				deployment = aws.ToString(d.Id)
			}
		}
	}
	e.log.Info("ECS deployment started", zap.String("cert", ev.Name), zap.String("deployment_id", deployment))
	return nil
}
