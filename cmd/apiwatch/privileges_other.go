//go:build !linux

package main

// dropPrivileges does nothing where live capture does not exist (it needs
// Linux AF_PACKET; see privileges_linux.go).
func dropPrivileges() {}
