package aggregate

// Error is an expected refusal of a command: Key names what was wrong (a request field, or
// "case"), Code is the code the operator API answers with. The agent-impersonation API maps
// the same errors to its own codes.
type Error struct {
	Key  string
	Code string
}

func (e *Error) Error() string { return "aggregate: " + e.Key + ": " + e.Code }

// Is reports whether target is an *Error with the same key and code, so that errors.Is works
// with the values below.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Key == e.Key && t.Code == e.Code
}

// The refusals of the case commands, spelled as the operator API spells them.
var (
	ErrAssignmentInvalid  = &Error{"assignment", "invalid"}
	ErrAssignmentMissing  = &Error{"assignment", "missing"}
	ErrCaseInvalidID      = &Error{"case", "invalidId"}
	ErrOperatorNotValid   = &Error{"email", "operatorNotValid"}
	ErrGroupInvalidName   = &Error{"groupName", "invalidName"}
	ErrNotAuthorized      = &Error{"email", "isNotAuthorized"}
	ErrOperatorBlocked    = &Error{"email", "blocked"}
	ErrAlreadyClosed      = &Error{"case", "statusIsAlreadyClose"}
	ErrStatusInvalid      = &Error{"statusName", "invalid"}
	ErrDescriptionMissing = &Error{"description", "missing"}
	// ErrNoteInvalidID refuses editing a note the case does not have.
	ErrNoteInvalidID = &Error{"id", "invalidId"}
	// ErrFileInvalidID refuses acting on a file the case does not have attached.
	ErrFileInvalidID = &Error{"file", "invalidId"}
	// ErrWrongStatus refuses serving or resolving a case whose status does not allow it.
	ErrWrongStatus = &Error{"case", "wrongStatus"}
	// ErrLockedByOther refuses acting on a case that another agent is serving.
	ErrLockedByOther = &Error{"case", "lockedByAnotherUser"}
	// ErrTypeNotAuthorized refuses opening a case of, or moving one to, a type the caller
	// may not handle.
	ErrTypeNotAuthorized = &Error{"typeCode", "isNotAuthorized"}
)

// The refusals spelled as the vendor SDK's error table spells them (ThalamusErrors.php),
// so that its clients report the table's codes.
var (
	// ErrCategoryRequired: no category code (3101).
	ErrCategoryRequired = &Error{"category", "CodeRequired"}
	// ErrCategoryOrTypeInvalid: no type code, an unknown category or type, or a type of
	// another category (3102).
	ErrCategoryOrTypeInvalid = &Error{"categoryOrType", "InvalidCode"}
	// ErrInitialStatus: a status the case may not be given (3103).
	ErrInitialStatus = &Error{"caseStatus", "InitialStatusNotSelected"}
	// ErrInitialResolution: a resolution the case may not be given (3104); a case takes a
	// resolution only as it is or becomes Resolved.
	ErrInitialResolution = &Error{"caseResolutionType", "InitialResolutionTypeNotSelected"}
)
