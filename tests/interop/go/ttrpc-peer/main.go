// Command ttrpc-peer is a reference ttrpc peer built from the Go reference
// implementation (github.com/containerd/ttrpc + containerd's task service).
// Interop tests and benchmarks run it against our C++ client and server.
//
// Build offline with scripts/build-go-peers (GOPATH mode, Debian packages).
//
// Usage:
//
//	ttrpc-peer server --socket PATH [--shim-pid N] [--task-pid N] [--delay D]
//	                  [--delay-state D] [--delay-connect D]
//	ttrpc-peer client --socket PATH --op OP [--id ID] [--timeout D]
//	                  [--count N] [--concurrency C] [--duration D] [--namespace NS]
//
// Server: prints "ready\n" on stdout once listening; serves
// containerd.task.v2.Task until SIGTERM/SIGINT or a Shutdown call (exit 0).
//
// Client ops: connect, shutdown, state, unknown, deadline, concurrent, bench.
// Expected RPC errors are printed as "code=<name> message=<msg>"; any
// unexpected failure exits non-zero with a one-line error on stderr.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math"
	"net"
	"os"
	"os/signal"
	"sort"
	"sync"
	"syscall"
	"time"

	"github.com/containerd/containerd/runtime/v2/task"
	"github.com/containerd/ttrpc"
	"github.com/gogo/protobuf/types"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

const (
	taskService = "containerd.task.v2.Task"
	stateMsg    = "not implemented by ttrpc-peer"
	nsKey       = "containerd-namespace-ttrpc"
)

func usage() {
	fmt.Fprintln(os.Stderr, "usage: ttrpc-peer server --socket PATH [--shim-pid N] [--task-pid N] [--delay D] [--delay-state D] [--delay-connect D]")
	fmt.Fprintln(os.Stderr, "       ttrpc-peer client --socket PATH --op connect|shutdown|state|unknown|deadline|concurrent|bench [--id ID] [--timeout D] [--count N] [--concurrency C] [--duration D] [--namespace NS]")
}

func fatalf(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "ttrpc-peer: "+format+"\n", args...)
	os.Exit(1)
}

func main() {
	if len(os.Args) < 2 {
		usage()
		os.Exit(2)
	}
	switch os.Args[1] {
	case "server":
		runServer(os.Args[2:])
	case "client":
		runClient(os.Args[2:])
	case "-h", "--help", "help":
		usage()
	default:
		usage()
		os.Exit(2)
	}
}

// ---------------------------------------------------------------- server

type taskServer struct {
	shimPid      uint32
	taskPid      uint32
	pidsDelay    time.Duration
	stateDelay   time.Duration
	connectDelay time.Duration
	shutdown     chan struct{}
	shutdownOnce sync.Once
}

var errUnimplemented = status.Error(codes.Unimplemented, "not implemented by ttrpc-peer")

// sleepCtx waits for d or until ctx is done; returns ctx.Err() (nil if the
// full duration elapsed first).
func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
	return ctx.Err()
}

func (s *taskServer) State(ctx context.Context, _ *task.StateRequest) (*task.StateResponse, error) {
	if err := sleepCtx(ctx, s.stateDelay); err != nil {
		return nil, err
	}
	return nil, status.Error(codes.Unimplemented, stateMsg)
}

func (s *taskServer) Create(context.Context, *task.CreateTaskRequest) (*task.CreateTaskResponse, error) {
	return nil, errUnimplemented
}

func (s *taskServer) Start(context.Context, *task.StartRequest) (*task.StartResponse, error) {
	return nil, errUnimplemented
}

func (s *taskServer) Delete(context.Context, *task.DeleteRequest) (*task.DeleteResponse, error) {
	return nil, errUnimplemented
}

// Pids sleeps for --delay (or until the request's deadline), for deadline tests.
func (s *taskServer) Pids(ctx context.Context, _ *task.PidsRequest) (*task.PidsResponse, error) {
	if err := sleepCtx(ctx, s.pidsDelay); err != nil {
		return nil, err
	}
	return &task.PidsResponse{}, nil
}

func (s *taskServer) Pause(context.Context, *task.PauseRequest) (*types.Empty, error) {
	return nil, errUnimplemented
}

func (s *taskServer) Resume(context.Context, *task.ResumeRequest) (*types.Empty, error) {
	return nil, errUnimplemented
}

func (s *taskServer) Checkpoint(context.Context, *task.CheckpointTaskRequest) (*types.Empty, error) {
	return nil, errUnimplemented
}

func (s *taskServer) Kill(context.Context, *task.KillRequest) (*types.Empty, error) {
	return nil, errUnimplemented
}

func (s *taskServer) Exec(context.Context, *task.ExecProcessRequest) (*types.Empty, error) {
	return nil, errUnimplemented
}

func (s *taskServer) ResizePty(context.Context, *task.ResizePtyRequest) (*types.Empty, error) {
	return nil, errUnimplemented
}

func (s *taskServer) CloseIO(context.Context, *task.CloseIORequest) (*types.Empty, error) {
	return nil, errUnimplemented
}

func (s *taskServer) Update(context.Context, *task.UpdateTaskRequest) (*types.Empty, error) {
	return nil, errUnimplemented
}

func (s *taskServer) Wait(context.Context, *task.WaitRequest) (*task.WaitResponse, error) {
	return nil, errUnimplemented
}

func (s *taskServer) Stats(context.Context, *task.StatsRequest) (*task.StatsResponse, error) {
	return nil, errUnimplemented
}

func (s *taskServer) Connect(ctx context.Context, _ *task.ConnectRequest) (*task.ConnectResponse, error) {
	if err := sleepCtx(ctx, s.connectDelay); err != nil {
		return nil, err
	}
	return &task.ConnectResponse{ShimPid: s.shimPid, TaskPid: s.taskPid}, nil
}

// Shutdown replies with Empty; the server exits shortly after the reply is sent.
func (s *taskServer) Shutdown(context.Context, *task.ShutdownRequest) (*types.Empty, error) {
	s.shutdownOnce.Do(func() { close(s.shutdown) })
	return &types.Empty{}, nil
}

func runServer(args []string) {
	fs := flag.NewFlagSet("server", flag.ExitOnError)
	socket := fs.String("socket", "", "unix socket path to listen on (required)")
	shimPid := fs.Uint("shim-pid", 4242, "shim_pid returned by Connect")
	taskPid := fs.Uint("task-pid", 4343, "task_pid returned by Connect")
	delay := fs.Duration("delay", 10*time.Second, "how long Pids sleeps (or until its deadline)")
	delayState := fs.Duration("delay-state", 0, "how long State sleeps before answering Unimplemented")
	delayConnect := fs.Duration("delay-connect", 0, "how long Connect sleeps before answering")
	fs.Parse(args)
	if *socket == "" || fs.NArg() != 0 {
		usage()
		os.Exit(2)
	}

	if err := os.Remove(*socket); err != nil && !os.IsNotExist(err) {
		fatalf("remove stale socket %s: %v", *socket, err)
	}
	l, err := net.Listen("unix", *socket)
	if err != nil {
		fatalf("listen %s: %v", *socket, err)
	}

	srv, err := ttrpc.NewServer()
	if err != nil {
		fatalf("new server: %v", err)
	}
	impl := &taskServer{
		shimPid:      uint32(*shimPid),
		taskPid:      uint32(*taskPid),
		pidsDelay:    *delay,
		stateDelay:   *delayState,
		connectDelay: *delayConnect,
		shutdown:     make(chan struct{}),
	}
	task.RegisterTaskService(srv, impl)

	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)

	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(context.Background(), l) }()

	fmt.Fprint(os.Stdout, "ready\n")
	os.Stdout.Sync()

	exit := func(code int) {
		srv.Close()
		os.Remove(*socket)
		os.Exit(code)
	}
	select {
	case <-sigs:
		exit(0)
	case <-impl.shutdown:
		// Grace period so the Shutdown reply is flushed to the client.
		time.Sleep(100 * time.Millisecond)
		exit(0)
	case err := <-serveErr:
		if err != nil && err != ttrpc.ErrServerClosed {
			fmt.Fprintf(os.Stderr, "ttrpc-peer: serve: %v\n", err)
			exit(1)
		}
		exit(0)
	}
}

// ---------------------------------------------------------------- client

// rpcStatus classifies err: a ttrpc status error (from the server) or a
// local context error (deadline/cancel) gives (code, message, true);
// anything else (transport failure) gives ok=false.
func rpcStatus(err error) (codes.Code, string, bool) {
	if st, ok := status.FromError(err); ok {
		return st.Code(), st.Message(), true
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return codes.DeadlineExceeded, err.Error(), true
	case errors.Is(err, context.Canceled):
		return codes.Canceled, err.Error(), true
	}
	return codes.Unknown, err.Error(), false
}

// printStatus prints "ok" or "code=<name> message=<msg>"; exits 1 on a
// non-RPC (transport) error.
func printStatus(what string, err error) {
	if err == nil {
		fmt.Println("ok")
		return
	}
	code, msg, ok := rpcStatus(err)
	if !ok {
		fatalf("%s: %v", what, err)
	}
	fmt.Printf("code=%s message=%s\n", code.String(), msg)
}

func dial(socket string) *ttrpc.Client {
	conn, err := net.DialTimeout("unix", socket, 5*time.Second)
	if err != nil {
		fatalf("dial %s: %v", socket, err)
	}
	return ttrpc.NewClient(conn)
}

func runClient(args []string) {
	fs := flag.NewFlagSet("client", flag.ExitOnError)
	socket := fs.String("socket", "", "unix socket path to dial (required)")
	op := fs.String("op", "", "connect|shutdown|state|unknown|deadline|concurrent|bench (required)")
	id := fs.String("id", "feas", "task id sent in requests")
	timeout := fs.Duration("timeout", 0, "per-call deadline (deadline op: default 100ms; others: none)")
	count := fs.Int("count", 100, "concurrent op: number of concurrent Connect calls")
	concurrency := fs.Int("concurrency", 1, "bench op: number of connections")
	duration := fs.Duration("duration", 2*time.Second, "bench op: how long to run")
	namespace := fs.String("namespace", "", "if set, send metadata "+nsKey+"=NS")
	fs.Parse(args)
	if *socket == "" || *op == "" || fs.NArg() != 0 {
		usage()
		os.Exit(2)
	}

	base := context.Background()
	if *namespace != "" {
		base = ttrpc.WithMetadata(base, ttrpc.MD{nsKey: []string{*namespace}})
	}
	callCtx := func(d time.Duration) (context.Context, context.CancelFunc) {
		if d > 0 {
			return context.WithTimeout(base, d)
		}
		return context.WithCancel(base)
	}

	switch *op {
	case "connect":
		cl := dial(*socket)
		defer cl.Close()
		ctx, cancel := callCtx(*timeout)
		defer cancel()
		resp, err := task.NewTaskClient(cl).Connect(ctx, &task.ConnectRequest{ID: *id})
		if err != nil {
			fatalf("connect: %v", err)
		}
		fmt.Printf("shim_pid=%d task_pid=%d version=%s\n", resp.ShimPid, resp.TaskPid, resp.Version)

	case "shutdown":
		cl := dial(*socket)
		defer cl.Close()
		ctx, cancel := callCtx(*timeout)
		defer cancel()
		if _, err := task.NewTaskClient(cl).Shutdown(ctx, &task.ShutdownRequest{ID: *id}); err != nil {
			fatalf("shutdown: %v", err)
		}
		fmt.Println("ok")

	case "state":
		cl := dial(*socket)
		defer cl.Close()
		ctx, cancel := callCtx(*timeout)
		defer cancel()
		_, err := task.NewTaskClient(cl).State(ctx, &task.StateRequest{ID: *id})
		printStatus("state", err)

	case "unknown":
		cl := dial(*socket)
		defer cl.Close()
		ctx, cancel := callCtx(*timeout)
		defer cancel()
		err := cl.Call(ctx, taskService, "NoSuchMethod", &task.ConnectRequest{ID: *id}, &task.ConnectResponse{})
		printStatus("unknown method", err)
		err = cl.Call(ctx, "no.such.Service", "Connect", &task.ConnectRequest{ID: *id}, &task.ConnectResponse{})
		printStatus("unknown service", err)

	case "deadline":
		d := *timeout
		if d <= 0 {
			d = 100 * time.Millisecond
		}
		cl := dial(*socket)
		defer cl.Close()
		ctx, cancel := callCtx(d)
		defer cancel()
		_, err := task.NewTaskClient(cl).Connect(ctx, &task.ConnectRequest{ID: *id})
		printStatus("deadline", err)

	case "concurrent":
		runConcurrent(*socket, *id, *count, *timeout, callCtx)

	case "bench":
		runBench(*socket, *id, *concurrency, *duration, base)

	default:
		usage()
		os.Exit(2)
	}
}

func runConcurrent(socket, id string, count int, timeout time.Duration,
	callCtx func(time.Duration) (context.Context, context.CancelFunc)) {
	if count <= 0 {
		fatalf("concurrent: --count must be > 0")
	}
	cl := dial(socket)
	defer cl.Close()
	tc := task.NewTaskClient(cl)

	type result struct {
		pid uint32
		err error
	}
	results := make([]result, count)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := 0; i < count; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			<-start
			ctx, cancel := callCtx(timeout)
			defer cancel()
			resp, err := tc.Connect(ctx, &task.ConnectRequest{ID: id})
			if err != nil {
				results[i].err = err
				return
			}
			results[i].pid = resp.ShimPid
		}(i)
	}
	close(start)
	wg.Wait()

	for i, r := range results {
		if r.err != nil {
			fatalf("concurrent: call %d: %v", i, r.err)
		}
		if r.pid != results[0].pid {
			fatalf("concurrent: call %d: shim_pid=%d, call 0 got %d", i, r.pid, results[0].pid)
		}
	}
	fmt.Printf("ok %d\n", count)
}

func runBench(socket, id string, concurrency int, duration time.Duration, base context.Context) {
	if concurrency <= 0 {
		fatalf("bench: --concurrency must be > 0")
	}
	clients := make([]*ttrpc.Client, concurrency)
	for i := range clients {
		clients[i] = dial(socket)
	}
	defer func() {
		for _, cl := range clients {
			cl.Close()
		}
	}()

	lat := make([][]time.Duration, concurrency)
	errs := make([]error, concurrency)
	var wg sync.WaitGroup
	begin := time.Now()
	end := begin.Add(duration)
	for i := range clients {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			tc := task.NewTaskClient(clients[i])
			samples := make([]time.Duration, 0, 4096)
			for {
				t0 := time.Now()
				if !t0.Before(end) {
					break
				}
				if _, err := tc.Connect(base, &task.ConnectRequest{ID: id}); err != nil {
					errs[i] = err
					break
				}
				samples = append(samples, time.Since(t0))
			}
			lat[i] = samples
		}(i)
	}
	wg.Wait()
	elapsed := time.Since(begin)

	for i, err := range errs {
		if err != nil {
			fatalf("bench: connection %d: %v", i, err)
		}
	}
	var all []time.Duration
	for _, s := range lat {
		all = append(all, s...)
	}
	sort.Slice(all, func(a, b int) bool { return all[a] < all[b] })
	pct := func(p float64) float64 {
		if len(all) == 0 {
			return 0
		}
		// nearest-rank percentile
		idx := int(math.Ceil(p*float64(len(all)))) - 1
		if idx >= len(all) {
			idx = len(all) - 1
		}
		if idx < 0 {
			idx = 0
		}
		return float64(all[idx].Nanoseconds()) / 1e3
	}
	fmt.Printf("calls=%d seconds=%.3f p50_us=%.1f p99_us=%.1f\n",
		len(all), elapsed.Seconds(), pct(0.50), pct(0.99))
}
