package atomicfile

import (
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func skipWithoutUnix(t *testing.T) {
	if runtime.GOOS == "windows" || runtime.GOOS == "plan9" {
		t.Skip("needs symlinks, FIFOs and flock")
	}
}

// names lists the entries of dir.
func names(t *testing.T, dir string) []string {
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out
}

func TestRefusesNonRegularOutputs(t *testing.T) {
	skipWithoutUnix(t)
	dir := t.TempDir()
	target := filepath.Join(dir, "target")
	require.NoError(t, os.WriteFile(target, []byte("keep"), 0o644))
	link := filepath.Join(dir, "link")
	require.NoError(t, os.Symlink("target", link))
	fifo := filepath.Join(dir, "fifo")
	require.NoError(t, mkfifo(fifo))
	hard := filepath.Join(dir, "hard")
	require.NoError(t, os.Link(target, hard))
	sub := filepath.Join(dir, "sub")
	require.NoError(t, os.Mkdir(sub, 0o755))

	cases := []struct{ path, kind string }{
		{link, "a symlink"}, {fifo, "a FIFO"}, {hard, "a file with 2 hard links"}, {sub, "a folder"}, {os.DevNull, "a device"},
	}
	for _, c := range cases {
		for _, err := range []error{WriteFile(c.path, []byte("x")), CheckOutput(c.path)} {
			require.ErrorIs(t, err, ErrNotRegular, c.path)
			require.ErrorContains(t, err, c.kind)
			require.ErrorContains(t, err, c.path)
			require.ErrorContains(t, err, "--write-through")
		}
	}
	// Nothing was touched: the link is still a link, the target unchanged.
	st, err := os.Lstat(link)
	require.NoError(t, err)
	require.NotZero(t, st.Mode()&fs.ModeSymlink)
	b, _ := os.ReadFile(target)
	require.Equal(t, "keep", string(b))
	require.ElementsMatch(t, []string{"target", "link", "fifo", "hard", "sub"}, names(t, dir))
}

func TestWriteThrough(t *testing.T) {
	skipWithoutUnix(t)
	dir := t.TempDir()
	through := Options{WriteThrough: true}
	// A symlink: the target is replaced atomically, the link stays a link.
	target := filepath.Join(dir, "target")
	require.NoError(t, os.WriteFile(target, []byte("old"), 0o644))
	link := filepath.Join(dir, "link")
	require.NoError(t, os.Symlink("target", link))
	require.NoError(t, through.CheckOutput(link))
	require.NoError(t, through.WriteFile(link, []byte("new")))
	st, err := os.Lstat(link)
	require.NoError(t, err)
	require.NotZero(t, st.Mode()&fs.ModeSymlink)
	b, _ := os.ReadFile(target)
	require.Equal(t, "new", string(b))
	// A dangling symlink creates its target.
	dangling := filepath.Join(dir, "dangling")
	require.NoError(t, os.Symlink("made", dangling))
	require.NoError(t, through.WriteFile(dangling, []byte("made")))
	b, _ = os.ReadFile(filepath.Join(dir, "made"))
	require.Equal(t, "made", string(b))
	// A hard link is written in place: both names see the bytes.
	hard := filepath.Join(dir, "hard")
	require.NoError(t, os.Link(target, hard))
	require.NoError(t, through.WriteFile(hard, []byte("both")))
	b, _ = os.ReadFile(target)
	require.Equal(t, "both", string(b))
	// A device is written to.
	require.NoError(t, through.WriteFile(os.DevNull, []byte("gone")))
	// A FIFO is written to (a reader drains it).
	fifo := filepath.Join(dir, "fifo")
	require.NoError(t, mkfifo(fifo))
	got := make(chan string)
	go func() {
		b, _ := os.ReadFile(fifo)
		got <- string(b)
	}()
	require.NoError(t, through.WriteFile(fifo, []byte("piped")))
	select {
	case s := <-got:
		require.Equal(t, "piped", s)
	case <-time.After(10 * time.Second):
		t.Fatal("FIFO reader got nothing")
	}
	// A folder never.
	require.Error(t, through.WriteFile(t.TempDir(), []byte("x")))
	require.ElementsMatch(t, []string{"target", "link", "dangling", "made", "hard", "fifo"}, names(t, dir))
}

func TestCheckOutputRefusesInputs(t *testing.T) {
	skipWithoutUnix(t)
	dir := t.TempDir()
	data := filepath.Join(dir, "d.csv")
	require.NoError(t, os.WriteFile(data, []byte("1,0\n"), 0o644))
	err := CheckOutput(data, "mnist-mini", data)
	require.ErrorIs(t, err, ErrSameFile)
	require.Equal(t, data+": is also an input of the command", err.Error())
	// Spelled differently: ./d.csv from the folder, a symlink to it.
	t.Chdir(dir)
	require.ErrorIs(t, CheckOutput("./d.csv", data), ErrSameFile)
	require.NoError(t, os.Symlink("d.csv", "alias.csv"))
	err = Options{WriteThrough: true}.CheckOutput("alias.csv", data)
	require.ErrorIs(t, err, ErrSameFile)
	require.ErrorContains(t, err, "("+data+")")
	// Other inputs, missing inputs and a new output are fine.
	require.NoError(t, os.WriteFile("model.shrink", []byte("m"), 0o644))
	require.NoError(t, CheckOutput("out.shrink", "model.shrink", data, "mnist-mini", ""))
	require.NoError(t, CheckOutput("model2.shrink", "model.shrink"))
	require.NoError(t, CheckOutput("d2.csv", data))
	require.Error(t, CheckOutput(""))
}

func TestReadOnlyFolder(t *testing.T) {
	skipWithoutUnix(t)
	if os.Geteuid() == 0 {
		t.Skip("root writes to read-only folders")
	}
	dir := t.TempDir()
	p := filepath.Join(dir, "f")
	require.NoError(t, os.WriteFile(p, []byte("keep"), 0o644))
	require.NoError(t, os.Chmod(dir, 0o555))
	t.Cleanup(func() { os.Chmod(dir, 0o755) })
	err := WriteFile(p, []byte("new"))
	require.ErrorIs(t, err, fs.ErrPermission)
	require.ErrorContains(t, err, dir)
	b, _ := os.ReadFile(p)
	require.Equal(t, "keep", string(b))
	require.Equal(t, []string{"f"}, names(t, dir))
}

// deadPID returns the PID of a process that has exited.
func deadPID(t *testing.T) int {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	require.NoError(t, cmd.Run())
	pid := cmd.Process.Pid
	if alive(pid) {
		t.Skip("the PID was reused at once")
	}
	return pid
}

func TestStaleTemporariesRemoved(t *testing.T) {
	skipWithoutUnix(t)
	dir := t.TempDir()
	p := filepath.Join(dir, "m.shrink")
	dead := deadPID(t)
	stale := filepath.Join(dir, ".m.shrink.tmp-"+strconv.Itoa(dead)+"-abc")
	require.NoError(t, os.WriteFile(stale, []byte("partial"), 0o600))
	legacyOld := filepath.Join(dir, ".m.shrink.tmp-123456789")
	require.NoError(t, os.WriteFile(legacyOld, []byte("partial"), 0o600))
	old := time.Now().Add(-2 * legacyAge)
	require.NoError(t, os.Chtimes(legacyOld, old, old))
	legacyNew := filepath.Join(dir, ".m.shrink.tmp-987654321")
	require.NoError(t, os.WriteFile(legacyNew, []byte("partial"), 0o600))
	// A live writer's file: the PID of this process's parent, and locked.
	liveName := filepath.Join(dir, ".m.shrink.tmp-"+strconv.Itoa(os.Getppid())+"-xyz")
	live, err := os.Create(liveName)
	require.NoError(t, err)
	defer live.Close()
	require.True(t, lock(live))
	// A dead PID whose file is still locked (another PID namespace): kept.
	lockedName := filepath.Join(dir, ".m.shrink.tmp-"+strconv.Itoa(dead)+"-locked")
	locked, err := os.Create(lockedName)
	require.NoError(t, err)
	defer locked.Close()
	require.True(t, lock(locked))
	// Another output's temporary and an unrelated file: kept.
	other := filepath.Join(dir, ".other.tmp-"+strconv.Itoa(dead)+"-abc")
	require.NoError(t, os.WriteFile(other, nil, 0o600))

	require.NoError(t, WriteFile(p, []byte("model")))
	require.ElementsMatch(t, []string{"m.shrink", filepath.Base(legacyNew), filepath.Base(liveName), filepath.Base(lockedName), filepath.Base(other)}, names(t, dir))
}

// TestHelperWriter is not a test: run as a subprocess by
// TestKillAndRerun, it writes and blocks before the rename until killed.
func TestHelperWriter(t *testing.T) {
	p := os.Getenv("ATOMICFILE_HELPER_PATH")
	if p == "" {
		t.Skip("helper process only")
	}
	beforeRename = func(string) {
		os.WriteFile(p+".ready", nil, 0o644)
		time.Sleep(time.Minute)
	}
	WriteFile(p, []byte("never renamed"))
}

func TestKillAndRerun(t *testing.T) {
	skipWithoutUnix(t)
	dir := t.TempDir()
	p := filepath.Join(dir, "m.shrink")
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperWriter$")
	cmd.Env = append(os.Environ(), "ATOMICFILE_HELPER_PATH="+p)
	require.NoError(t, cmd.Start())
	deadline := time.Now().Add(20 * time.Second)
	for {
		if _, err := os.Stat(p + ".ready"); err == nil {
			break
		}
		require.True(t, time.Now().Before(deadline), "helper never got to the rename")
		time.Sleep(10 * time.Millisecond)
	}
	require.NoError(t, os.Remove(p+".ready"))
	// While the writer lives its temporary is never taken.
	require.NoError(t, WriteFile(p, []byte("first")))
	var temps []string
	for _, n := range names(t, dir) {
		if strings.HasPrefix(n, ".m.shrink.tmp-") {
			temps = append(temps, n)
		}
	}
	require.Len(t, temps, 1)
	require.Contains(t, temps[0], ".m.shrink.tmp-"+strconv.Itoa(cmd.Process.Pid)+"-")
	// kill -9, then the next write cleans up.
	require.NoError(t, cmd.Process.Kill())
	err := cmd.Wait()
	var ee *exec.ExitError
	require.True(t, errors.As(err, &ee))
	require.NoError(t, WriteFile(p, []byte("second")))
	require.Equal(t, []string{"m.shrink"}, names(t, dir))
	b, _ := os.ReadFile(p)
	require.Equal(t, "second", string(b))
}

// TestUnwritableFolder writes into /proc, which refuses new files even to
// root (the read-only-folder test above needs a non-root user).
func TestUnwritableFolder(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("linux /proc only")
	}
	before := names(t, "/proc/self")
	err := WriteFile("/proc/self/shrink-out", []byte("x"))
	require.Error(t, err)
	require.ErrorContains(t, err, "/proc/self/")
	require.Equal(t, before, names(t, "/proc/self"))
}
