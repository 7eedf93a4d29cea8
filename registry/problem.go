package registry

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
)

// MaxProblems caps the problems reported for one file: past it, a file is
// broken enough that more lines would only hide the first ones.
const MaxProblems = 100

// Severity tells whether a problem stops a registry from loading.
type Severity string

// The severities.
const (
	Error   Severity = "error"
	Warning Severity = "warning"
)

// Problem is one thing wrong (or, as a warning, risky) in a registry file.
type Problem struct {
	Severity Severity `json:"severity"`
	File     string   `json:"file"`
	Line     int      `json:"line"`
	Column   int      `json:"column"`
	ClientID string   `json:"client_id,omitempty"`
	Message  string   `json:"message"`
}

func (p Problem) String() string {
	return fmt.Sprintf("%s:%d:%d: %s", p.File, p.Line, p.Column, p.Message)
}

// LoadError is returned when a registry file fails to load. It lists every
// problem found, up to MaxProblems.
type LoadError struct {
	File      string
	Problems  []Problem // errors only
	Truncated bool      // more problems than MaxProblems
}

// Error is the summary followed by one problem a line, as a command line
// shows it.
func (e *LoadError) Error() string {
	var b strings.Builder
	b.WriteString(e.Summary())
	for _, p := range e.Problems {
		b.WriteString("\n\t")
		b.WriteString(p.String())
	}
	return b.String()
}

// Summary is the first line of Error: the file and how many problems it
// has. A structured log shows it next to the problems as a list.
func (e *LoadError) Summary() string {
	s := fmt.Sprintf("registry %s: %d problem(s)", e.File, len(e.Problems))
	if e.Truncated {
		s += " (more not shown)"
	}
	return s
}

// problemList collects the problems of one file and turns byte offsets into
// lines and columns.
type problemList struct {
	file      string
	data      []byte
	errors    []Problem
	warnings  []Problem
	truncated bool

	// The last position computed: see position.
	lastOffset, lastLine, lastLineStart int
}

func (l *problemList) add(offset int, msg string) {
	l.addFor(offset, "", Error, msg)
}

func (l *problemList) addFor(offset int, clientID string, sev Severity, msg string) {
	list := &l.errors
	if sev == Warning {
		list = &l.warnings
	}
	if len(*list) >= MaxProblems {
		l.truncated = l.truncated || sev == Error
		return
	}
	line, col := l.position(offset)
	*list = append(*list, Problem{Severity: sev, File: l.file, Line: line, Column: col, ClientID: clientID, Message: msg})
}

// full reports whether problems of severity sev are no longer recorded.
func (l *problemList) full(sev Severity) bool {
	if sev == Warning {
		return len(l.warnings) >= MaxProblems
	}
	return len(l.errors) >= MaxProblems
}

// position returns the 1-based line and column (in bytes) of offset.
// Problems are found mostly in the order of the file, so lines are counted
// from the last position asked for when that is before offset: a file with
// many problems is not counted from its start for each.
func (l *problemList) position(offset int) (line, col int) {
	offset = max(0, min(offset, len(l.data)))
	from, line, lineStart := 0, 1, 0
	if l.lastLine > 0 && offset >= l.lastOffset {
		from, line, lineStart = l.lastOffset, l.lastLine, l.lastLineStart
	}
	if chunk := l.data[from:offset]; len(chunk) > 0 {
		if n := bytes.Count(chunk, []byte{'\n'}); n > 0 {
			line += n
			lineStart = from + bytes.LastIndexByte(chunk, '\n') + 1
		}
	}
	l.lastOffset, l.lastLine, l.lastLineStart = offset, line, lineStart
	return line, offset - lineStart + 1
}

func (l *problemList) err() error {
	if len(l.errors) == 0 {
		return nil
	}
	return &LoadError{File: l.file, Problems: l.sorted(l.errors), Truncated: l.truncated}
}

// all returns the errors and then the warnings, each in the order of the
// file.
func (l *problemList) all() []Problem {
	return slices.Concat(l.sorted(l.errors), l.sorted(l.warnings))
}

// sorted sorts problems by position: they are found in several passes.
func (l *problemList) sorted(ps []Problem) []Problem {
	slices.SortStableFunc(ps, func(a, b Problem) int {
		if a.Line != b.Line {
			return a.Line - b.Line
		}
		return a.Column - b.Column
	})
	return ps
}
