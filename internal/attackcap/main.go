// Command attackcap is the helper behind scripts/attack-captures.sh, which
// records real attack tools (hydra, ffuf) against a real HTTP API inside
// private network namespaces and writes the captures and their ground truth
// to testdata/attacks. It has three subcommands:
//
//	attackcap server -listen ADDR -log FILE      the API under attack
//	attackcap users  -server ADDR -ip IP ...     benign users at human rates
//	attackcap truth  -scenario NAME -pcap FILE … ground truth from a capture
//
// It is a test fixture, not part of apiwatch: nothing imports it, and it
// imports nothing from apiwatch (the ground truth must not come from the
// code it is used to test).
package main

import (
	"fmt"
	"os"
)

// Host is the API's host name: every client sends it in Host.
const Host = "api.example.test"

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	var err error
	switch os.Args[1] {
	case "server":
		err = runServer(os.Args[2:])
	case "users":
		err = runUsers(os.Args[2:])
	case "truth":
		err = runTruth(os.Args[2:])
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "attackcap %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: attackcap server|users|truth [flags]")
	os.Exit(2)
}
