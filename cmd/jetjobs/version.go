package main

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/spf13/cobra"
)

func init() { register("", newVersionCommand) }

func newVersionCommand(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version of jetjobs, its source revision and its embedded NATS server",
		Long: `Print the module version of this jetjobs binary (a release tag when installed
with go install ...@VERSION, a pseudo-version or (devel) otherwise), the source
revision it was built from and whether that tree had local changes, the Go
version, and the version of the NATS server that 'jetjobs server' embeds.`,
		Example: `  jetjobs version`,
		Args:    noArgs,
		RunE: func(*cobra.Command, []string) error {
			info, _ := debug.ReadBuildInfo()
			writeVersion(a.stdout, info)
			return nil
		},
	}
}

// writeVersion prints what info (nil when the binary has none) says of
// the build.
func writeVersion(w io.Writer, info *debug.BuildInfo) {
	version, revision, at, modified := "(unknown)", "", "", false
	if info != nil {
		if info.Main.Version != "" {
			version = info.Main.Version
		}
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				revision = s.Value
			case "vcs.time":
				at = s.Value
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
	}
	fmt.Fprintf(w, "jetjobs %s\n", version)
	if revision != "" {
		fmt.Fprintf(w, "revision: %s", revision)
		if at != "" {
			fmt.Fprintf(w, " (%s)", at)
		}
		if modified {
			fmt.Fprint(w, ", with uncommitted changes")
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "go: %s %s/%s\n", runtime.Version(), runtime.GOOS, runtime.GOARCH)
	fmt.Fprintf(w, "embedded nats-server: %s\n", server.VERSION)
}
