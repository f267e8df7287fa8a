//! The generator: its state, the line prefixes of each form, reports and the long line.

use super::*;

// The generator

/// Where a line comes from.
#[derive(Clone, Copy)]
pub(super) enum Src<'a> {
    /// The kernel, at a kmsg level.
    Kernel(u8),
    /// A userspace program: identifier and pid.
    User(&'a str, u32),
    /// A userspace program whose identifier already carries its pid, or has none.
    Ident(&'a str),
}

/// Streams a generated log. Use [`Generator::write_to`], or read it as a [`Read`].
pub struct Generator<'c> {
    pub(super) opts: Options,
    pub(super) reports: Vec<&'c CorpusReport>,
    pub(super) order: Vec<usize>,
    pub(super) order_pos: usize,
    pub(super) rng: Rng,
    /// Wall-clock seconds (UTC, shown as local time) at boot.
    pub(super) boot_epoch: i64,
    /// Microseconds since boot.
    pub(super) mono_us: u64,
    /// kmsg sequence number.
    pub(super) seq: u64,
    pub(super) buf: Vec<u8>,
    pub(super) read_pos: usize,
    pub(super) stats: Stats,
    pub(super) next_report_at: u64,
    pub(super) long_left: u64,
    pub(super) lead_done: bool,
    pub(super) done: bool,
    /// Byte length of the last prefix written (for journal continuation indentation).
    pub(super) last_prefix_len: usize,
    /// Cached rendering of the wall-clock second `date_sec`.
    pub(super) date_sec: i64,
    pub(super) date: [u8; 19],
    /// Set while writing a continuation line: it keeps the previous line's time.
    pub(super) hold_time: bool,
    /// Long-lived pids of daemons, so the same kubelet or journald pid recurs.
    pub(super) daemons: [u32; 9],
}

impl fmt::Debug for Generator<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Generator")
            .field("opts", &self.opts)
            .field("stats", &self.stats)
            .finish()
    }
}

/// Why a generator could not start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoReports;

impl fmt::Display for NoReports {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("no corpus report matches the selection")
    }
}

impl std::error::Error for NoReports {}

impl<'c> Generator<'c> {
    /// A generator over `corpus`. Fails when reports are wanted but the selection is empty.
    pub fn new(corpus: &'c Corpus, opts: Options) -> Result<Generator<'c>, NoReports> {
        let reports = corpus.select(&opts.selection);
        if reports.is_empty() && (opts.report_every > 0 || opts.lead_report) {
            return Err(NoReports);
        }
        let mut rng = Rng::new(opts.seed);
        // Some day of 2024, 00:00 to 24:00 UTC; uptime a few seconds to a few minutes.
        let boot_epoch = 1_704_067_200 + rng.below(365) as i64 * 86_400 + rng.below(86_400) as i64;
        let mono_us = rng.range(3_000_000, 300_000_000);
        let mut daemons = [0u32; 9];
        for d in &mut daemons {
            *d = rng.range(300, 4000) as u32;
        }
        let mut g = Generator {
            order: (0..reports.len()).collect(),
            order_pos: usize::MAX,
            reports,
            rng,
            boot_epoch,
            mono_us,
            seq: rng_seq_start(opts.seed),
            buf: Vec::with_capacity(CHUNK + 64 * 1024),
            read_pos: 0,
            stats: Stats::default(),
            next_report_at: 0,
            long_left: opts.long_line,
            lead_done: !opts.lead_report,
            done: false,
            last_prefix_len: 0,
            date_sec: i64::MIN,
            date: [b' '; 19],
            hold_time: false,
            daemons,
            opts,
        };
        g.next_report_at = g.report_gap();
        Ok(g)
    }

    /// What was written so far.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// The options in use.
    pub fn options(&self) -> &Options {
        &self.opts
    }

    /// Writes the whole log to `w` and returns what was written.
    pub fn write_to<W: Write + ?Sized>(mut self, w: &mut W) -> io::Result<Stats> {
        while let Some(chunk) = self.next_chunk() {
            w.write_all(chunk)?;
        }
        w.flush()?;
        Ok(self.stats)
    }

    /// Generates the next piece of output (about 64 KiB); `None` at the end.
    pub fn next_chunk(&mut self) -> Option<&[u8]> {
        self.buf.clear();
        self.read_pos = 0;
        self.fill();
        if self.buf.is_empty() {
            None
        } else {
            Some(&self.buf)
        }
    }

    /// Consumes the generator, returning its statistics.
    pub fn into_stats(self) -> Stats {
        self.stats
    }

    pub(super) fn written(&self) -> u64 {
        self.stats.bytes + self.buf.len() as u64
    }

    pub(super) fn report_gap(&mut self) -> u64 {
        let every = self.opts.report_every;
        if every == 0 {
            return u64::MAX;
        }
        every / 2 + self.rng.below(every.max(1))
    }

    /// Appends events to `buf` until it holds a chunk or the log is complete.
    pub(super) fn fill(&mut self) {
        let start = self.buf.len();
        while self.buf.len() - start < CHUNK && !self.done {
            if self.long_left > 0 {
                self.long_line_piece(CHUNK - (self.buf.len() - start));
            } else if !self.lead_done {
                self.lead_done = true;
                self.report();
            } else if self.written() >= self.opts.size {
                self.done = true;
            } else if self.written() >= self.next_report_at {
                self.report();
                let gap = self.report_gap();
                self.next_report_at = self.written().saturating_add(gap);
            } else {
                self.noise_event();
            }
        }
        self.stats.bytes += (self.buf.len() - start) as u64;
    }

    // -- time ---------------------------------------------------------------------------------

    pub(super) fn tick(&mut self, max_us: u64) {
        self.mono_us += 1 + self.rng.below(max_us);
    }

    /// Time passing between unrelated events: mostly tens of milliseconds, now and then
    /// a quiet minute.
    pub(super) fn idle(&mut self) {
        if self.rng.chance(1, 2000) {
            self.tick(600_000_000);
        } else {
            self.tick(60_000);
        }
    }

    pub(super) fn render_date(&mut self, sec: i64) {
        if sec == self.date_sec {
            return;
        }
        self.date_sec = sec;
        let days = sec.div_euclid(86_400);
        let tod = sec.rem_euclid(86_400);
        let (y, m, d) = civil_from_days(days);
        let (hh, mm, ss) = (tod / 3600, tod / 60 % 60, tod % 60);
        let mut o = [b' '; 19];
        match self.opts.form {
            LogForm::Syslog => {
                // 2024-03-10T07:12:33
                put_dec(&mut o[0..4], y as u64);
                o[4] = b'-';
                put_dec(&mut o[5..7], u64::from(m));
                o[7] = b'-';
                put_dec(&mut o[8..10], u64::from(d));
                o[10] = b'T';
                put_hms(&mut o[11..19], hh, mm, ss);
            }
            _ => {
                // Mar 10 07:12:33
                o[0..3].copy_from_slice(MONTHS[m as usize - 1].as_bytes());
                put_dec(&mut o[4..6], u64::from(d));
                put_hms(&mut o[7..15], hh, mm, ss);
            }
        }
        self.date = o;
    }

    // -- line building ------------------------------------------------------------------------

    #[inline]
    pub(super) fn s(&mut self, x: &str) {
        self.buf.extend_from_slice(x.as_bytes());
    }

    #[inline]
    pub(super) fn u(&mut self, n: u64) {
        let mut tmp = [0u8; 20];
        let mut i = tmp.len();
        let mut n = n;
        loop {
            i -= 1;
            tmp[i] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        self.buf.extend_from_slice(&tmp[i..]);
    }

    /// `n` right-aligned in `width` columns, padded with `fill`.
    pub(super) fn upad(&mut self, n: u64, width: usize, fill: u8) {
        let digits = decimal_len(n);
        for _ in digits..width {
            self.buf.push(fill);
        }
        self.u(n);
    }

    /// `n` as `width` lowercase hex digits.
    pub(super) fn hex(&mut self, n: u64, width: usize) {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        for k in (0..width).rev() {
            let shift = 4 * k as u32;
            let nib = if shift >= 64 { 0 } else { (n >> shift) & 0xf };
            self.buf.push(HEX[nib as usize]);
        }
    }

    /// `n` in lowercase hex without padding.
    pub(super) fn hexu(&mut self, n: u64) {
        let width = (64 - n.leading_zeros() as usize).div_ceil(4);
        self.hex(n, width.max(1));
    }

    pub(super) fn rnd(&mut self, lo: u64, hi: u64) -> u64 {
        self.rng.range(lo, hi)
    }

    pub(super) fn pick(&mut self, items: &[&'static str]) -> &'static str {
        items[self.rng.below(items.len() as u64) as usize]
    }

    /// Starts a line: writes the form's prefix for the current time.
    pub(super) fn line(&mut self, src: Src<'_>) {
        if !self.hold_time {
            // Lines of one message block follow each other within microseconds.
            self.mono_us += self.rng.below(4);
        }
        let start = self.buf.len();
        let us = self.mono_us;
        match self.opts.form {
            LogForm::Dmesg => {
                self.s("[");
                self.upad(us / 1_000_000, 5, b' ');
                self.s(".");
                self.upad(us % 1_000_000, 6, b'0');
                self.s("] ");
                self.src_tag(src);
            }
            LogForm::Kmsg => {
                let prio = match src {
                    Src::Kernel(level) => u64::from(level),
                    _ => 30, // LOG_DAEMON | LOG_INFO
                };
                self.u(prio);
                self.s(",");
                self.seq += 1;
                self.u(self.seq);
                self.s(",");
                self.u(us);
                self.s(",-;");
                self.src_tag(src);
            }
            LogForm::Journal | LogForm::Syslog => {
                let sec = self.boot_epoch + (us / 1_000_000) as i64;
                self.render_date(sec);
                if self.opts.form == LogForm::Journal {
                    let date = self.date;
                    self.buf.extend_from_slice(&date[..15]);
                } else {
                    let date = self.date;
                    self.buf.extend_from_slice(&date);
                    self.s(".");
                    self.upad(us % 1_000_000, 6, b'0');
                    self.s("+00:00");
                }
                self.s(" ");
                let host = std::mem::take(&mut self.opts.host);
                self.s(&host);
                self.opts.host = host;
                self.s(" ");
                match src {
                    Src::Kernel(_) => self.s("kernel"),
                    Src::User(name, pid) => {
                        self.s(name);
                        self.s("[");
                        self.u(u64::from(pid));
                        self.s("]");
                    }
                    Src::Ident(ident) => self.s(ident),
                }
                self.s(": ");
            }
        }
        self.last_prefix_len = self.buf.len() - start;
    }

    /// In dmesg and kmsg, a userspace line carries its identifier in the message.
    pub(super) fn src_tag(&mut self, src: Src<'_>) {
        match src {
            Src::Kernel(_) => {}
            Src::User(name, pid) => {
                self.s(name);
                self.s("[");
                self.u(u64::from(pid));
                self.s("]: ");
            }
            Src::Ident(ident) => {
                self.s(ident);
                self.s(": ");
            }
        }
    }

    pub(super) fn eol(&mut self) {
        self.buf.push(b'\n');
        self.stats.lines += 1;
    }

    /// A kernel line at KERN_INFO.
    pub(super) fn k(&mut self) {
        self.line(Src::Kernel(6));
    }

    /// A kernel line at `level`.
    pub(super) fn kl(&mut self, level: u8) {
        self.line(Src::Kernel(level));
    }

    /// Starts the continuation line of a multi-line kernel message (`show_mem`'s
    /// `" active_file:…"`): its own timestamped line in dmesg and kmsg, an indented line
    /// in journal output, a `#012`-joined tail in rsyslog files. The caller writes the body
    /// and calls [`Generator::eol`].
    pub(super) fn cont(&mut self, level: u8) {
        match self.opts.form {
            LogForm::Dmesg | LogForm::Kmsg => {
                self.hold_time = true;
                self.kl(level);
                self.hold_time = false;
            }
            LogForm::Journal => {
                for _ in 0..self.last_prefix_len {
                    self.buf.push(b' ');
                }
            }
            LogForm::Syslog => {
                if self.buf.last() == Some(&b'\n') {
                    self.buf.pop();
                    self.stats.lines -= 1;
                    self.s("#012");
                } else {
                    self.kl(level);
                }
            }
        }
    }

    // -- reports ------------------------------------------------------------------------------

    pub(super) fn next_report(&mut self) -> &'c CorpusReport {
        if self.order_pos >= self.order.len() {
            // A fresh permutation each round: every report is used before any repeats.
            for i in (1..self.order.len()).rev() {
                let j = self.rng.below(i as u64 + 1) as usize;
                self.order.swap(i, j);
            }
            self.order_pos = 0;
        }
        let r = self.reports[self.order[self.order_pos]];
        self.order_pos += 1;
        r
    }

    pub(super) fn report(&mut self) {
        if self.reports.is_empty() {
            return;
        }
        let r = self.next_report();
        self.idle();
        let first_line = self.stats.lines + 1;
        let mut killed = 0u32;
        let kernel_only = self.opts.form.kernel_only();
        let interleave = self.opts.interleave && !kernel_only;
        for l in &r.lines {
            if l.ident.is_some() && kernel_only {
                continue;
            }
            if interleave && !l.cont && self.rng.chance(1, 40) {
                self.user_line();
            }
            if l.cont {
                self.cont(l.level);
            } else {
                self.tick(25);
                match &l.ident {
                    None => self.kl(l.level),
                    Some(ident) => self.line(Src::Ident(ident)),
                }
            }
            self.s(&l.body);
            self.eol();
            killed += u32::from(l.killed);
        }
        self.stats.reports += 1;
        self.stats.incidents += u64::from(r.incidents);
        self.stats.killed_process_lines += u64::from(killed);
        self.stats.inserted.push(Inserted {
            first_line,
            last_line: self.stats.lines,
            report: r.name.clone(),
            victim_pid: r.victim_pid,
            incidents: r.incidents,
            killed_process_lines: killed,
        });
    }

    // -- the long line ------------------------------------------------------------------------

    /// Writes up to `room` bytes of the long line.
    pub(super) fn long_line_piece(&mut self, room: usize) {
        if self.long_left == self.opts.long_line {
            // First piece: the prefix and the start of the message.
            let start = self.buf.len();
            self.k();
            self.s("audit: type=1327 audit(");
            self.u(self.boot_epoch as u64 + self.mono_us / 1_000_000);
            self.s(".113:4711): proctitle=");
            let used = (self.buf.len() - start) as u64;
            if used > self.long_left {
                // Shorter than its own prefix: cut (still exactly long_line bytes).
                self.buf.truncate(start + self.long_left as usize);
                self.long_left = 0;
            } else {
                self.long_left -= used;
            }
        }
        const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let n = (room.max(1) as u64).min(self.long_left) as usize;
        let mut x = self.rng.next_u64();
        for k in 0..n {
            if k % 10 == 0 {
                x = self.rng.next_u64();
            }
            self.buf.push(B64[(x & 63) as usize]);
            x >>= 6;
        }
        self.long_left -= n as u64;
        if self.long_left == 0 {
            self.eol();
        }
    }

    // -- noise --------------------------------------------------------------------------------

    pub(super) fn noise_event(&mut self) {
        self.idle();
        let table: &[(u32, Ev)] = if self.opts.form.kernel_only() {
            KERNEL_EVENTS
        } else {
            ALL_EVENTS
        };
        let total: u32 = table.iter().map(|(w, _)| w).sum();
        let mut x = self.rng.below(u64::from(total)) as u32;
        let mut ev = table[0].1;
        for &(w, e) in table {
            if x < w {
                ev = e;
                break;
            }
            x -= w;
        }
        self.emit(ev);
    }

    /// One single userspace line (used between report lines).
    pub(super) fn user_line(&mut self) {
        let ev = *self.rng.pick(&[
            Ev::Sshd,
            Ev::Cron,
            Ev::Kubelet,
            Ev::Containerd,
            Ev::Earlyoom,
        ]);
        self.emit(ev);
    }

    pub(super) fn daemon(&mut self, i: usize) -> u32 {
        self.daemons[i % self.daemons.len()]
    }

    pub(super) fn pid(&mut self) -> u64 {
        self.rnd(1000, 4_194_303)
    }

    pub(super) fn comm(&mut self) -> &'static str {
        self.pick(COMMS)
    }
}

pub(super) fn rng_seq_start(seed: u64) -> u64 {
    Rng::new(seed ^ 0x5eed).range(1_000, 900_000)
}

impl Read for Generator<'_> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.read_pos >= self.buf.len() {
            self.buf.clear();
            self.read_pos = 0;
            self.fill();
            if self.buf.is_empty() {
                return Ok(0);
            }
        }
        let n = out.len().min(self.buf.len() - self.read_pos);
        out[..n].copy_from_slice(&self.buf[self.read_pos..self.read_pos + n]);
        self.read_pos += n;
        Ok(n)
    }
}

/// Writes exactly `n` bytes of one line (no newline inside) followed by `\n`, in `form`:
/// the long-line case without anything else. Same as a [`Generator`] with only
/// [`Options::long_line`] set.
pub fn write_long_line<W: Write + ?Sized>(
    w: &mut W,
    form: LogForm,
    n: u64,
    seed: u64,
) -> io::Result<()> {
    let corpus = Corpus {
        reports: Vec::new(),
    };
    let opts = Options {
        form,
        size: 0,
        report_every: 0,
        seed,
        long_line: n,
        ..Options::default()
    };
    let g = Generator::new(&corpus, opts).map_err(|e| io::Error::other(e.to_string()))?;
    g.write_to(w).map(|_| ())
}
