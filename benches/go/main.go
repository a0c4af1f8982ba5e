// Command gortbench runs one benchmark workload (docs/PERFORMANCE.md) in Go,
// the reference the gort suite is compared to: `gortbench -w W3`. P is
// GOMAXPROCS (the environment variable, as Go reads it). It prints the same
// `name= p= value= unit=` lines as the Rust binaries, after the same checks.
// Built by `bench compare` when `go` is on PATH.
package main

import (
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"runtime/trace"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

var sink uint64 // package-level sink so no work is optimised away

func report(name string, v float64, unit string) {
	fmt.Printf("name=%s p=%d value=%.3f unit=%s\n", name, runtime.GOMAXPROCS(0), v, unit)
}

func fail(name string, why interface{}) {
	fmt.Fprintf(os.Stderr, "%s: check failed: %v\n", name, why)
	os.Exit(1)
}

func check(name string, ok bool, why string) {
	if !ok {
		fail(name, why)
	}
}

func quantileMs(v []time.Duration, q float64) float64 {
	rank := int(q*float64(len(v)) + 0.999999999)
	if rank < 1 {
		rank = 1
	}
	if rank > len(v) {
		rank = len(v)
	}
	return float64(v[rank-1]) / 1e6
}

// xorshiftUnit is W7's unit of work: 20,000 xorshift64 steps. Go has no
// black_box and does not delete or vectorise this dependent chain; the
// result goes to the package-level sink. (Rust's per-step black_box keeps x
// in memory; here it stays in a register, so Go's unit is a little cheaper.)
//
//go:noinline
func xorshiftUnit(seed uint64) uint64 {
	x := seed
	for i := 0; i < 20000; i++ {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
	}
	atomic.StoreUint64(&sink, x)
	return x
}

const seed = 0x9E3779B97F4A7C15

func w1() {
	const N = 1000000
	var counter int64
	var wg sync.WaitGroup
	start := time.Now()
	wg.Add(N)
	for i := 0; i < N; i++ {
		go func() { atomic.AddInt64(&counter, 1); wg.Done() }()
	}
	wg.Wait()
	el := time.Since(start)
	check("W1", counter == N, fmt.Sprint("counter = ", counter))
	report("W1", float64(el.Nanoseconds())/N, "ns_per_task")
}

func skynet(c chan<- uint64, num, size uint64) {
	if size == 1 {
		c <- num
		return
	}
	rc := make(chan uint64, 10)
	var sum uint64
	for i := uint64(0); i < 10; i++ {
		go skynet(rc, num+i*(size/10), size/10)
	}
	for i := 0; i < 10; i++ {
		sum += <-rc
	}
	c <- sum
}

func w2() {
	start := time.Now()
	c := make(chan uint64, 1)
	go skynet(c, 0, 1000000)
	sum := <-c
	el := time.Since(start)
	check("W2", sum == 499999500000, fmt.Sprint("sum = ", sum))
	report("W2", float64(el.Nanoseconds())/1e6, "ms_total")
}

func w3() {
	const R = 1000000
	ping, pong := make(chan uint64), make(chan uint64)
	done := make(chan uint64)
	start := time.Now()
	go func() {
		for v := range ping {
			pong <- v + 1
		}
		close(pong)
	}()
	go func() {
		var v uint64
		for i := 0; i < R; i++ {
			ping <- v
			v = <-pong
		}
		close(ping)
		done <- v
	}()
	v := <-done
	el := time.Since(start)
	check("W3", v == R, fmt.Sprint("final value ", v))
	report("W3", float64(el.Nanoseconds())/R, "ns_per_roundtrip")
}

func w4() {
	const Y = 1000000
	var wg sync.WaitGroup
	var n [2]uint64
	start := time.Now()
	wg.Add(2)
	for k := 0; k < 2; k++ {
		go func(k int) {
			for i := 0; i < Y; i++ {
				runtime.Gosched()
				n[k]++
			}
			wg.Done()
		}(k)
	}
	wg.Wait()
	el := time.Since(start)
	check("W4", n[0] == Y && n[1] == Y, fmt.Sprint("yields = ", n))
	report("W4", float64(el.Nanoseconds())/(2*Y), "ns_per_switch")
}

func vmHWM() uint64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		fail("W5", err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmHWM:") {
			f := strings.Fields(l[6:])
			kb, _ := strconv.ParseUint(f[0], 10, 64)
			return kb * 1024
		}
	}
	fail("W5", "no VmHWM")
	return 0
}

func w5() {
	const N = 1000000
	c := make(chan struct{})
	var arrived, released int64
	var wg sync.WaitGroup
	wg.Add(N)
	before := vmHWM()
	start := time.Now()
	for i := 0; i < N; i++ {
		go func() {
			atomic.AddInt64(&arrived, 1)
			if _, ok := <-c; !ok {
				atomic.AddInt64(&released, 1)
			}
			wg.Done()
		}()
	}
	for atomic.LoadInt64(&arrived) < N {
		runtime.Gosched()
	}
	peak := vmHWM()
	close(c)
	wg.Wait()
	el := time.Since(start)
	check("W5", released == N, fmt.Sprint(released, " released"))
	report("W5", float64(peak-before)/N, "bytes_per_task")
	report("W5", float64(el.Nanoseconds())/1e6, "ms_total")
}

var spin uint64
var stop int32

func w6() {
	nap := time.Millisecond
	var late []time.Duration
	var wg sync.WaitGroup
	wg.Add(2)
	start := time.Now()
	go func() {
		for atomic.LoadInt32(&stop) == 0 {
			spin++
		}
		wg.Done()
	}()
	go func() {
		for atomic.LoadInt32(&stop) == 0 {
			want := time.Now().Add(nap)
			time.Sleep(nap)
			woke := time.Now()
			if atomic.LoadInt32(&stop) != 0 {
				break
			}
			late = append(late, woke.Sub(want))
		}
		wg.Done()
	}()
	// The 2 s are kept by a thread outside the scheduler's choice: a
	// syscall sleep on a locked thread.
	runtime.LockOSThread()
	ts := syscall.NsecToTimespec(int64(2 * time.Second))
	for syscall.Nanosleep(&ts, &ts) != nil {
	}
	atomic.StoreInt32(&stop, 1)
	wg.Wait()
	check("W6", time.Since(start) >= 2*time.Second, "short run")
	if len(late) == 0 {
		report("W6", 1, "starved")
		return
	}
	sort.Slice(late, func(i, j int) bool { return late[i] < late[j] })
	report("W6", quantileMs(late, 0.5), "p50_ms")
	report("W6", quantileMs(late, 0.99), "p99_ms")
	report("W6", quantileMs(late, 1), "max_ms")
	report("W6", float64(len(late)), "wakeups")
	report("W6", 0, "starved")
}

func w7() {
	const T = 10000
	want := xorshiftUnit(seed)
	res := make([]uint64, T)
	var wg sync.WaitGroup
	wg.Add(T)
	start := time.Now()
	for i := 0; i < T; i++ {
		go func(i int) { res[i] = xorshiftUnit(seed); wg.Done() }(i)
	}
	wg.Wait()
	el := time.Since(start)
	for _, r := range res {
		check("W7", r == want, "wrong result")
	}
	report("W7", float64(el.Nanoseconds())/1e6, "ms_total")
}

func threads() int {
	b, _ := os.ReadFile("/proc/self/status")
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "Threads:") {
			n, _ := strconv.Atoi(strings.TrimSpace(l[8:]))
			return n
		}
	}
	return 0
}

func w8() {
	want := xorshiftUnit(seed)
	var peak int64
	var halt int32
	watched := make(chan struct{})
	go func() {
		runtime.LockOSThread() // the watcher is a thread of its own
		for {
			last := atomic.LoadInt32(&halt)
			if n := int64(threads()); n > peak {
				peak = n
			}
			if last != 0 {
				close(watched)
				return
			}
			ts := syscall.NsecToTimespec(int64(time.Millisecond))
			syscall.Nanosleep(&ts, nil)
		}
	}()
	var wg sync.WaitGroup
	var shortest = time.Hour
	good := make([]int, 4)
	wg.Add(5)
	start := time.Now()
	go func() {
		for i := 0; i < 100; i++ {
			t := time.Now()
			ts := syscall.NsecToTimespec(int64(10 * time.Millisecond))
			for syscall.Nanosleep(&ts, &ts) != nil {
			}
			if d := time.Since(t); d < shortest {
				shortest = d
			}
		}
		wg.Done()
	}()
	for k := 0; k < 4; k++ {
		go func(k int) {
			for i := 0; i < 10000; i++ {
				if xorshiftUnit(seed) == want {
					good[k]++
				}
			}
			wg.Done()
		}(k)
	}
	wg.Wait()
	el := time.Since(start)
	atomic.StoreInt32(&halt, 1)
	<-watched
	check("W8", shortest >= 10*time.Millisecond, "a call was short")
	for _, g := range good {
		check("W8", g == 10000, "wrong units")
	}
	report("W8", float64(el.Nanoseconds())/1e6, "ms_total")
	report("W8", float64(peak), "os_threads_max")
}

func message(c, r uint64) []byte {
	m := make([]byte, 64)
	for i := 0; i < 8; i++ {
		m[i] = byte(c >> (8 * i))
		m[8+i] = byte(r >> (8 * i))
	}
	for i := 16; i < 64; i++ {
		m[i] = (byte(c) * 31) ^ (byte(r) + byte(i-16))
	}
	return m
}

func w9() {
	const C = 1000
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fail("W9", err)
	}
	go func() {
		for {
			s, err := l.Accept()
			if err != nil {
				fail("W9", err)
			}
			go func() {
				buf := make([]byte, 4096)
				for {
					n, err := s.Read(buf)
					if err == io.EOF {
						return
					} else if err != nil {
						fail("W9", err)
					}
					if _, err := s.Write(buf[:n]); err != nil {
						fail("W9", err)
					}
				}
			}()
		}
	}()
	var halt int32
	var connected, done sync.WaitGroup
	connected.Add(C)
	done.Add(C)
	gate := make(chan struct{})
	lats := make([][]uint32, C)
	for c := 0; c < C; c++ {
		go func(c int) {
			s, err := net.Dial("tcp", l.Addr().String())
			if err != nil {
				fail("W9", err)
			}
			lat := make([]uint32, 0, 4096)
			back := make([]byte, 64)
			connected.Done()
			<-gate
			for r := uint64(0); atomic.LoadInt32(&halt) == 0; r++ {
				m := message(uint64(c), r)
				t := time.Now()
				if _, err := s.Write(m); err != nil {
					fail("W9", err)
				}
				if _, err := io.ReadFull(s, back); err != nil {
					fail("W9", err)
				}
				us := time.Since(t).Microseconds()
				check("W9", string(back) == string(m), "wrong echo")
				lat = append(lat, uint32(us))
			}
			lats[c] = lat
			done.Done()
		}(c)
	}
	connected.Wait()
	start := time.Now()
	close(gate)
	time.Sleep(5 * time.Second)
	atomic.StoreInt32(&halt, 1)
	done.Wait()
	el := time.Since(start)
	var all []uint32
	for _, l := range lats {
		all = append(all, l...)
	}
	check("W9", len(all) >= C, "too few round trips")
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	p99 := all[(len(all)*99+99)/100-1]
	report("W9", float64(len(all))/el.Seconds(), "rps")
	report("W9", float64(p99), "p99_us")
}

func cpuMs() float64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e6
}

func w10() {
	const K = 100000
	ds := make([]time.Duration, K)
	x := uint64(42)
	for i := range ds {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		ds[i] = time.Duration(x%100000) * time.Microsecond
	}
	late := make([]time.Duration, K)
	var wg sync.WaitGroup
	wg.Add(K)
	cpu0 := cpuMs()
	start := time.Now()
	for i := 0; i < K; i++ {
		go func(i int) {
			t := time.Now()
			time.Sleep(ds[i])
			late[i] = time.Since(t) - ds[i]
			wg.Done()
		}(i)
	}
	wg.Wait()
	el := time.Since(start)
	cpu := cpuMs() - cpu0
	sort.Slice(late, func(i, j int) bool { return late[i] < late[j] })
	check("W10", late[0] >= 0, "a goroutine woke early")
	report("W10", quantileMs(late, 0.5), "p50_ms")
	report("W10", quantileMs(late, 0.99), "p99_ms")
	report("W10", float64(el.Nanoseconds())/1e6, "ms_total")
	report("W10", cpu, "cpu_ms")
}

// watchThreads starts W11's watcher, a thread of its own that samples the
// thread count every period; the returned func stops it (after one last
// sample) and returns the peak. The first sample is taken before it returns.
func watchThreads(period time.Duration) func() int {
	var peak int
	var halt int32
	started := make(chan struct{})
	watched := make(chan struct{})
	go func() {
		runtime.LockOSThread()
		for first := true; ; first = false {
			last := atomic.LoadInt32(&halt)
			if n := threads(); n > peak {
				peak = n
			}
			if first {
				close(started)
			}
			if last != 0 {
				close(watched)
				return
			}
			ts := syscall.NsecToTimespec(int64(period))
			syscall.Nanosleep(&ts, nil)
		}
	}()
	<-started
	return func() int {
		atomic.StoreInt32(&halt, 1)
		<-watched
		return peak
	}
}

// hog is one W11 hog: 500 of W7's units, each seeded with the previous
// result, the first with seed; it returns the last result.
func hog() uint64 {
	x := uint64(seed)
	for i := 0; i < 500; i++ {
		x = xorshiftUnit(x)
	}
	return x
}

// w11Sleeper naps 1 ms until halt is set and records the lateness of every
// wake-up (the one that sees halt included).
func w11Sleeper(halt *int32) []time.Duration {
	nap := time.Millisecond
	late := make([]time.Duration, 0, 16384)
	for {
		due := time.Now().Add(nap)
		time.Sleep(nap)
		late = append(late, time.Since(due))
		if atomic.LoadInt32(halt) != 0 {
			return late
		}
	}
}

// w11Late wakes at at, spawns one goroutine and returns how long that one
// took to start running.
func w11Late(at time.Time) time.Duration {
	time.Sleep(time.Until(at))
	spawned := time.Now()
	ran := make(chan time.Time, 1)
	go func() { ran <- time.Now() }()
	return (<-ran).Sub(spawned)
}

func w11() {
	const N = 1000
	want := hog()
	res := make([]uint64, N)
	var halt int32
	var late []time.Duration
	var lateSpawn time.Duration
	var hogs, others sync.WaitGroup
	hogs.Add(N)
	others.Add(2)
	finish := watchThreads(2 * time.Millisecond)
	start := time.Now()
	go func() { late = w11Sleeper(&halt); others.Done() }()
	go func() { lateSpawn = w11Late(start.Add(300 * time.Millisecond)); others.Done() }()
	for i := 0; i < N; i++ {
		go func(i int) { res[i] = hog(); hogs.Done() }(i)
	}
	hogs.Wait()
	el := time.Since(start)
	atomic.StoreInt32(&halt, 1)
	others.Wait()
	peak := finish()
	for _, r := range res {
		check("W11", r == want, "wrong result")
	}
	sort.Slice(late, func(i, j int) bool { return late[i] < late[j] })
	report("W11", float64(el.Nanoseconds())/1e6, "ms_total")
	report("W11", float64(peak), "os_threads_max")
	report("W11", quantileMs(late, 0.99), "sleeper_p99_ms")
	report("W11", float64(lateSpawn.Nanoseconds())/1e6, "late_spawn_ms")
}

func main() {
	w := flag.String("w", "", "workload: W1 .. W11")
	flag.Parse()
	all := map[string]func(){"W1": w1, "W2": w2, "W3": w3, "W4": w4, "W5": w5,
		"W6": w6, "W7": w7, "W8": w8, "W9": w9, "W10": w10, "W11": w11}
	f, ok := all[strings.ToUpper(*w)]
	if !ok {
		fail("gortbench", "usage: gortbench -w W1..W11")
	}
	// GORT_BENCH_FLIGHT=1: run with the execution tracer on, writing to
	// nowhere (what a flight recorder costs: Go 1.25's is this tracer).
	if os.Getenv("GORT_BENCH_FLIGHT") == "1" {
		if err := trace.Start(io.Discard); err != nil {
			fail("gortbench", err.Error())
		}
		defer trace.Stop()
	}
	f()
}
