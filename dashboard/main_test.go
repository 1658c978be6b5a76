package dashboard_test

import (
	"flag"
	"fmt"
	"os"
	"testing"

	"go.uber.org/goleak"
)

var updateScreenshots = flag.Bool("update-screenshots", false, "write screenshots of each page to docs/dashboard/")

func TestMain(m *testing.M) {
	flag.Parse()
	code := m.Run()
	closeBrowser() // the one browser the browser tests share
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintf(os.Stderr, "goleak: %v\n", err)
			code = 1
		}
	}
	os.Exit(code)
}
