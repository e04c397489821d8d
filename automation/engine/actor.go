package engine

import "context"

// actorKey is the context key of the person acting (WithActor).
type actorKey struct{}

// WithActor returns ctx carrying the name of the person on whose behalf
// the work done under it is (a dashboard user, "admin" for the admin
// token). What a transaction of the engine writes under it records that
// name: Message.By on the messages it queues that no automation sends (a
// staff answer, a one-off send), Enrollment.StartedBy on the enrollments
// it starts and Enrollment.EndedBy on the ones it ends. An empty name is
// nobody: the work is the engine's own (a keyword, a timer, a schedule).
func WithActor(ctx context.Context, name string) context.Context {
	return context.WithValue(ctx, actorKey{}, name)
}

// ActorOf returns the name WithActor put in ctx, or "".
func ActorOf(ctx context.Context) string {
	name, _ := ctx.Value(actorKey{}).(string)
	return name
}
