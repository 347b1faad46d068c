// Package repocheck holds tests of the repository as a whole, not of one package: what
// the production binaries link, that go.mod is tidy, and that nothing in the repository
// points at a file outside it. It has no code of its own.
package repocheck
