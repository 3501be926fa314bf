// Package events defines casestream's event contract: the envelope every event travels in,
// each case and directory event type with its data, the subjects and headers events are
// stored under, and the codec between them.
//
// Downstream services import this package to decode the CASES and DIRECTORY streams; it
// depends on nothing else in casestream. A change to a type's data is a new schema version,
// never an edit in place (see docs/events.md).
package events
