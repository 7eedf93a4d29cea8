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

func (e *LoadError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "registry %s: %d problem(s)", e.File, len(e.Problems))
	if e.Truncated {
		b.WriteString(" (more not shown)")
	}
	for _, p := range e.Problems {
		b.WriteString("\n\t")
		b.WriteString(p.String())
	}
	return b.String()
}

// problemList collects the problems of one file and turns byte offsets into
// lines and columns.
type problemList struct {
	file      string
	data      []byte
	errors    []Problem
	warnings  []Problem
	truncated bool
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

// position returns the 1-based line and column (in bytes) of offset.
func (l *problemList) position(offset int) (line, col int) {
	offset = max(0, min(offset, len(l.data)))
	before := l.data[:offset]
	line = bytes.Count(before, []byte{'\n'}) + 1
	col = offset - (bytes.LastIndexByte(before, '\n') + 1) + 1
	return line, col
}

func (l *problemList) err() error {
	if len(l.errors) == 0 {
		return nil
	}
	slices.SortStableFunc(l.errors, func(a, b Problem) int {
		if a.Line != b.Line {
			return a.Line - b.Line
		}
		return a.Column - b.Column
	})
	return &LoadError{File: l.file, Problems: l.errors, Truncated: l.truncated}
}
