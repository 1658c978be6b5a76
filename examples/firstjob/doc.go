// Command firstjob is the README's first program: a worker pool that serves
// "email.send" jobs on the queue "default" of the NATS server at NATS_URL
// (default nats://127.0.0.1:4222), enqueues one, and runs until Ctrl-C.
// firstjob_test.go checks that the README shows this very main.go.
//
//	jetjobs server &
//	go run ./examples/firstjob
package main
