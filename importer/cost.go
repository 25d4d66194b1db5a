package importer

import (
	"time"

	"ctctbulk/ctct"
)

// What each way costs. Requests are the scarce resource (a few a second, a
// daily quota), and a bulk job's time is its queue time plus its rows at
// the server's speed; an export job's time grows with the list it exports.
// The plan prices the ways it can learn the account and check what the
// jobs did, and takes the cheapest; the dry run prints the same prices.

// Defaults of the cost model until the server shows its own.
const (
	// defaultRate is the client's requests per second when the run does
	// not say (the CLI's --rate default).
	defaultRate = 4.0
	// assumedQueue is a job's queue time before it runs (the sandbox's
	// default; BULK.md promises none).
	assumedQueue = 2 * time.Second
	// jobRequests are the requests a job takes beyond its POST: polls (the
	// first after its expected time, a couple more), and an export's file.
	jobPolls = 2
)

// requestWorth is what a request costs beyond its own time, in seconds:
// requests are the account's quota (about 10,000 a day, shared by every
// tool on the key), so a way that spends many more of them to save a
// little time is not the cheaper one. At a twentieth of a second, a
// hundred requests must save five seconds to be worth it.
const requestWorth = 0.05

// What the tool itself spends on an exported contact (measured on the
// bench's 2-core machine, a 100,000-contact account): the plan puts each
// in the store, the verification holds each against the rows sent.
const (
	planLoadRow    = 80 * time.Microsecond
	verifyCheckRow = 30 * time.Microsecond
)

// price is what a way that takes d and n requests costs, in seconds.
func price(d time.Duration, n int64) float64 { return d.Seconds() + float64(n)*requestWorth }

// costModel prices the requests and jobs of a run.
type costModel struct {
	rate  float64       // requests per second
	speed float64       // rows per second a job runs at
	queue time.Duration // a job's queue time
	// account is the contacts of the account (the system lists' counts);
	// known says the lists said so.
	account int64
	known   bool
}

// newCostModel prices requests at rate (0: defaultRate) and jobs at the
// assumed speed, for an account of the size the lists feed says (the
// counts of the three system lists), when it says.
func newCostModel(rate float64, lists []ctct.List) costModel {
	if rate <= 0 {
		rate = defaultRate
	}
	c := costModel{rate: rate, speed: assumedRowsPerSecond, queue: assumedQueue}
	for _, l := range lists {
		switch ctct.Number(l.ID) {
		case "active", "removed", "do-not-mail":
			if l.CountKnown {
				c.account += int64(l.ContactCount)
				c.known = true
			}
		}
	}
	return c
}

// listSize is the contacts of the list with id (a number or a system list
// word), as the lists said, and whether they said.
func listSize(lists []ctct.List, id string) (int64, bool) {
	for _, l := range lists {
		if ctct.Number(l.ID) == ctct.Number(id) && l.CountKnown {
			return int64(l.ContactCount), true
		}
	}
	return 0, false
}

// requests is the time n requests take at the rate.
func (c costModel) requests(n int64) time.Duration {
	return time.Duration(float64(n) / c.rate * float64(time.Second))
}

// job is the time of one job of rows rows, and its requests: its POST, its
// polls, and an export's file.
func (c costModel) job(rows int64, export bool) (time.Duration, int64) {
	n := int64(1 + jobPolls)
	if export {
		n++
	}
	run := time.Duration(float64(rows) / c.speed * float64(time.Second))
	return c.queue + run + c.requests(n), n
}

// exportPlan is what learning the account from its three system lists'
// exports costs. The server runs jobs one at a time: the times add up.
func (c costModel) exportPlan() (time.Duration, int64) {
	var d time.Duration
	var n int64
	for i := range 3 {
		rows := int64(0)
		if i == 0 {
			rows = c.account // the active list holds nearly all of it
		}
		jd, jn := c.job(rows, true)
		d, n = d+jd+time.Duration(rows)*planLoadRow, n+jn
	}
	return d, n
}

// lookupPlan is what learning emails emails by lookups costs: a search per
// 50, and a GET of each of the existing ones (every contact's values and
// lists are needed to tell unchanged from updated).
func (c costModel) lookupPlan(emails, existing int64) (time.Duration, int64) {
	n := (emails+batchSize-1)/batchSize + existing
	return c.requests(n), n
}

// searches is what looking emails up costs, without reading any contact.
func (c costModel) searches(emails int64) (time.Duration, int64) {
	n := (emails + batchSize - 1) / batchSize
	return c.requests(n), n
}

// exportVerify is what checking the jobs' rows by one export of a list of
// listRows contacts costs.
func (c costModel) exportVerify(listRows int64) (time.Duration, int64) {
	d, n := c.job(listRows, true)
	return d + time.Duration(listRows)*verifyCheckRow, n
}

// lookupVerify is what checking the jobs' rows of emails emails by lookups
// costs: a search per 50, a GET of each.
func (c costModel) lookupVerify(emails int64) (time.Duration, int64) {
	return c.lookupPlan(emails, emails)
}

// jobs is the time and requests of sending rows rows in jobs of perJob
// rows: the server runs them one after the other, so their queue times
// overlap but their rows add up.
func (c costModel) jobs(rows, perJob int64) (time.Duration, int64) {
	if rows == 0 {
		return 0, 0
	}
	k := (rows + perJob - 1) / perJob
	d, n := c.job(rows, false)
	return d + time.Duration(k-1)*c.requests(1+jobPolls), k * n
}

// collection is the time and requests of rows rows through the contacts
// collection, existing of whose contacts the account holds: a search per
// 50, a POST for each new contact, a GET and a PUT (or a DELETE for an
// opt-out) for each existing one.
func (c costModel) collection(rows, existing int64) (time.Duration, int64) {
	existing = min(max(existing, 0), rows)
	n := (rows+batchSize-1)/batchSize + rows + existing
	return c.requests(n), n
}

// existingGuess is how many of emails emails an account of account
// contacts holds, when they were not looked up: none of an empty
// account's, most of a huge one's.
func existingGuess(emails, account int64) int64 {
	if account <= 0 || emails <= 0 {
		return 0
	}
	return emails * account / (account + emails)
}
