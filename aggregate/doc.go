// Package aggregate holds casestream's write-side state: a case rebuilt from its events, and
// the commands that validate against it and return new events.
//
// Commands decide: they check their rules in a fixed order and return either the events to
// append or an *Error carrying the API code of the first rule that failed. Apply folds one
// event into the state; it is a plain type switch that cannot fail and does no I/O. The
// directory is consulted through the small Directory interface, an in-memory snapshot.
package aggregate
