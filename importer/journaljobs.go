package importer

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// The journal's records of bulk jobs, beside its row records:
//
//	job SEQ post LISTS DIGEST RUNS   before the job's POST is sent
//	job SEQ id KEY                   once the server answered with the job
//
// LISTS are the list URIs the job adds to, joined by ','; DIGEST the
// combined digest of its rows (rowDigest of each, in order), so that a
// resume knows the input still holds them; RUNS its input lines with the
// outcome planned for each (c created, u updated), as runs: "c2-9,u11,c12".
// A job's rows get row records only once their outcome is final (after the
// job ended and was verified); until then a resume polls the job (or sends
// it again when it has no id: an add job is safe to repeat, BULK.md).
const jobRecord = "job "

// maxJobRecord bounds one journal line: a job's runs of 20,000 rows.
const maxJobRecord = 4 << 20

// journalJob is one bulk job as the journal records it.
type journalJob struct {
	seq    int
	lists  []string
	digest uint64
	lines  []int
	class  []byte // planned outcome of each line: 'c' created, 'u' updated
	id     string // the activity's key, "" until the server answered
}

// loadJob reads one job record (after "job "); a torn one is ignored.
func (j *journal) loadJob(rest string) {
	fields := strings.Fields(rest)
	if len(fields) < 3 {
		return
	}
	seq, err := strconv.Atoi(fields[0])
	if err != nil || seq < 1 {
		return
	}
	switch {
	case fields[1] == "post" && len(fields) == 5:
		digest, err := strconv.ParseUint(fields[3], 16, 64)
		if err != nil {
			return
		}
		lines, class, err := parseRuns(fields[4])
		if err != nil {
			return
		}
		jj := &journalJob{seq: seq, lists: strings.Split(fields[2], ","), digest: digest, lines: lines, class: class}
		if old, ok := j.jobs[seq]; ok {
			jj.id = old.id
		}
		j.jobs[seq] = jj
	case fields[1] == "id" && len(fields) == 3:
		if jj, ok := j.jobs[seq]; ok {
			jj.id = fields[2]
		}
	}
}

// addJob records a job about to be posted.
func (j *journal) addJob(jj *journalJob) error {
	return j.write(fmt.Sprintf("%s%d post %s %x %s\n", jobRecord, jj.seq, strings.Join(jj.lists, ","), jj.digest, formatRuns(jj.lines, jj.class)))
}

// jobAnswered records the id the server gave a posted job.
func (j *journal) jobAnswered(seq int, key string) error {
	return j.write(fmt.Sprintf("%s%d id %s\n", jobRecord, seq, key))
}

// write appends one record; the first write error sticks.
func (j *journal) write(rec string) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.err != nil {
		return j.err
	}
	if j.f == nil {
		return errors.New("journal closed")
	}
	_, j.err = j.f.WriteString(rec)
	return j.err
}

// journaledJobs returns the jobs the journal held when opened, by
// sequence number.
func (j *journal) journaledJobs() map[int]*journalJob {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.jobs
}

// formatRuns writes lines (increasing) and their classes as runs.
func formatRuns(lines []int, class []byte) string {
	var b strings.Builder
	for i := 0; i < len(lines); {
		k := i
		for k+1 < len(lines) && lines[k+1] == lines[k]+1 && class[k+1] == class[i] {
			k++
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteByte(class[i])
		b.WriteString(strconv.Itoa(lines[i]))
		if k > i {
			b.WriteByte('-')
			b.WriteString(strconv.Itoa(lines[k]))
		}
		i = k + 1
	}
	return b.String()
}

// parseRuns reads what formatRuns wrote.
func parseRuns(s string) ([]int, []byte, error) {
	var lines []int
	var class []byte
	for _, run := range strings.Split(s, ",") {
		if len(run) < 2 || (run[0] != 'c' && run[0] != 'u') {
			return nil, nil, fmt.Errorf("bad run %q", run)
		}
		from, to, ranged := strings.Cut(run[1:], "-")
		a, err := strconv.Atoi(from)
		if err != nil || a < 1 {
			return nil, nil, fmt.Errorf("bad run %q", run)
		}
		b := a
		if ranged {
			if b, err = strconv.Atoi(to); err != nil || b < a {
				return nil, nil, fmt.Errorf("bad run %q", run)
			}
		}
		if len(lines) > 0 && a <= lines[len(lines)-1] {
			return nil, nil, fmt.Errorf("run %q out of order", run)
		}
		for l := a; l <= b; l++ {
			lines = append(lines, l)
			class = append(class, run[0])
		}
	}
	return lines, class, nil
}
