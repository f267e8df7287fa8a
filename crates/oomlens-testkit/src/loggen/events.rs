//! One function per kind of noise event: [`Generator::emit`] dispatches on [`Ev`].

use super::*;

impl Generator<'_> {
    /// Writes one noise event of kind `ev` (one function per kind below, or in `noise.rs`).
    pub(super) fn emit(&mut self, ev: Ev) {
        match ev {
            Ev::Apparmor => self.apparmor(),
            Ev::AuditSvc => self.audit_svc(),
            Ev::AuditSyscall => self.audit_syscall(),
            Ev::UsbAttach => self.usb_attach(),
            Ev::UsbDisconnect => self.usb_disconnect(),
            Ev::Ext4 => self.ext4(),
            Ev::Ufw => self.ufw(),
            Ev::Conntrack => self.conntrack(),
            Ev::Tcp => self.tcp(),
            Ev::Segfault => self.segfault(),
            Ev::Warning => self.warning(),
            Ev::PageAllocFailure => self.page_alloc_failure(),
            Ev::SysrqShowMem => self.sysrq_show_mem(),
            Ev::HungTask => self.hung_task(),
            Ev::NetLink => self.net_link(),
            Ev::Veth => self.veth(),
            Ev::Perf => self.perf(),
            Ev::IoError => self.io_error(),
            Ev::Traps => self.traps(),
            Ev::Slub => self.slub(),
            Ev::Edac => self.edac(),
            Ev::Nfs => self.nfs(),
            Ev::Kvm => self.kvm(),
            Ev::PidsCgroup => self.pids_cgroup(),
            Ev::SystemdKmsg => self.systemd(true),
            Ev::Journald => self.journald(),
            Ev::Sshd => self.sshd(),
            Ev::Cron => self.cron(),
            Ev::BashKilled => self.bash_killed(),
            Ev::Earlyoom => self.earlyoom(),
            Ev::NetworkManager => self.network_manager(),
            Ev::Kubelet => self.kubelet(),
            Ev::Containerd => self.containerd(),
            Ev::Dockerd => self.dockerd(),
            Ev::Sudo => self.sudo(),
            Ev::Logind => self.logind(),
            Ev::Postgres => self.postgres(),
            Ev::Rsyslog => self.rsyslog(),
            Ev::SystemdUnit => self.systemd(false),
        }
    }

    /// [`Ev::Apparmor`].
    fn apparmor(&mut self) {
        let pid = self.pid();
        let (profile, comm, path) = *self.rng.pick(APPARMOR);
        self.k();
        self.s("audit: type=1400 audit(");
        self.audit_stamp();
        self.s("): apparmor=\"DENIED\" operation=\"open\" class=\"file\" profile=\"");
        self.s(profile);
        self.s("\" name=\"");
        self.s(path);
        self.s("\" pid=");
        self.u(pid);
        self.s(" comm=\"");
        self.s(comm);
        self.s("\" requested_mask=\"r\" denied_mask=\"r\" fsuid=1000 ouid=0");
        self.eol();
    }

    /// [`Ev::AuditSvc`].
    fn audit_svc(&mut self) {
        let unit = self.pick(UNITS);
        let kind = if self.rng.chance(1, 2) {
            "1130"
        } else {
            "1131"
        };
        self.k();
        self.s("audit: type=");
        self.s(kind);
        self.s(" audit(");
        self.audit_stamp();
        self.s("): pid=1 uid=0 auid=4294967295 ses=4294967295 subj=unconfined msg='unit=");
        self.s(unit);
        self.s(" comm=\"systemd\" exe=\"/usr/lib/systemd/systemd\" hostname=? addr=? terminal=? res=success'");
        self.eol();
    }

    /// [`Ev::AuditSyscall`].
    fn audit_syscall(&mut self) {
        let pid = self.pid();
        let comm = self.comm();
        self.k();
        self.s("audit: type=1701 audit(");
        self.audit_stamp();
        self.s("): auid=1000 uid=1000 gid=1000 ses=3 subj=unconfined pid=");
        self.u(pid);
        self.s(" comm=\"");
        self.s(comm);
        self.s("\" exe=\"/usr/bin/");
        self.s(comm);
        self.s("\" sig=6 res=1");
        self.eol();
        if self.rng.chance(1, 3) {
            self.k();
            self.s("kauditd_printk_skb: ");
            let n = self.rnd(2, 40);
            self.u(n);
            self.s(" callbacks suppressed");
            self.eol();
        }
    }

    /// [`Ev::UsbDisconnect`].
    fn usb_disconnect(&mut self) {
        let port = self.rnd(1, 4);
        let devnum = self.rnd(2, 60);
        self.k();
        self.s("usb 1-");
        self.u(port);
        self.s(": USB disconnect, device number ");
        self.u(devnum);
        self.eol();
        if self.opts.form == LogForm::Kmsg {
            self.kmsg_dict(devnum);
        }
    }

    /// [`Ev::Conntrack`].
    fn conntrack(&mut self) {
        self.kl(4);
        self.s("nf_conntrack: nf_conntrack: table full, dropping packet");
        self.eol();
    }

    /// [`Ev::Tcp`].
    fn tcp(&mut self) {
        match self.rng.below(4) {
            0 => {
                self.kl(4);
                self.s("TCP: out of memory -- consider tuning tcp_mem");
            }
            1 => {
                self.kl(4);
                self.s("TCP: too many orphaned sockets");
            }
            2 => {
                self.kl(4);
                self.s("TCP: request_sock_TCP: Possible SYN flooding on port ");
                let port = *self.rng.pick(&[443u64, 80, 8080, 5432, 6443]);
                self.u(port);
                self.s(". Sending cookies.  Check SNMP counters.");
            }
            _ => {
                self.k();
                self.s("TCP: eth0: Driver has suspect GRO implementation, TCP performance may be compromised.");
            }
        }
        self.eol();
    }

    /// [`Ev::SysrqShowMem`].
    fn sysrq_show_mem(&mut self) {
        self.k();
        self.s("sysrq: Show Memory");
        self.eol();
        self.mem_info();
    }

    /// [`Ev::NetLink`].
    fn net_link(&mut self) {
        let nic = self.pick(&["eno1", "enp3s0", "eth0", "ens18"]);
        self.k();
        self.s("e1000e 0000:00:1f.6 ");
        self.s(nic);
        self.s(": NIC Link is Up 1000 Mbps Full Duplex, Flow Control: Rx/Tx");
        self.eol();
        self.tick(2000);
        self.k();
        self.s("IPv6: ADDRCONF(NETDEV_CHANGE): ");
        self.s(nic);
        self.s(": link becomes ready");
        self.eol();
    }

    /// [`Ev::Perf`].
    fn perf(&mut self) {
        self.k();
        if self.rng.chance(1, 2) {
            let a = self.rnd(2501, 9000);
            self.s("perf: interrupt took too long (");
            self.u(a);
            self.s(" > 2500), lowering kernel.perf_event_max_sample_rate to ");
            let r = self.rnd(20, 79) * 1000 + 750;
            self.u(r);
        } else {
            let ns = self.rnd(10_000, 900_000);
            self.s("hrtimer: interrupt took ");
            self.u(ns);
            self.s(" ns");
        }
        self.eol();
    }

    /// [`Ev::IoError`].
    fn io_error(&mut self) {
        let dev = self.pick(&["sdb", "sdc", "nvme1n1", "sda"]);
        let sector = self.rnd(0, 3_000_000_000);
        self.kl(3);
        self.s("blk_update_request: I/O error, dev ");
        self.s(dev);
        self.s(", sector ");
        self.u(sector);
        self.s(" op 0x0:(READ) flags 0x80700 phys_seg 1 prio class 0");
        self.eol();
        self.tick(50);
        self.kl(3);
        self.s("Buffer I/O error on dev ");
        self.s(dev);
        self.s("1, logical block ");
        self.u(sector / 8);
        self.s(", async page read");
        self.eol();
    }

    /// [`Ev::Traps`].
    fn traps(&mut self) {
        let comm = self.comm();
        let pid = self.pid();
        let ip = self.rnd(0x5500_0000_0000, 0x56ff_ffff_ffff);
        self.k();
        self.s("traps: ");
        self.s(comm);
        self.s("[");
        self.u(pid);
        self.s("] trap invalid opcode ip:");
        self.hexu(ip);
        self.s(" sp:7ffc");
        let sp = self.rng.next_u64();
        self.hex(sp, 8);
        self.s(" error:0 in ");
        self.s(comm);
        self.s("[");
        self.hexu(ip & !0xfff_ffff);
        self.s("+2b4e000]");
        self.eol();
        if self.rng.chance(1, 2) {
            self.k();
            self.s("potentially unexpected fatal signal 11.");
            self.eol();
        }
    }

    /// [`Ev::Slub`].
    fn slub(&mut self) {
        self.kl(4);
        self.s("SLUB: Unable to allocate memory on node -1, gfp=0xa20(GFP_ATOMIC)");
        self.eol();
        self.kl(4);
        self.s("  cache: skbuff_head_cache, object size: 232, buffer size: 256, default order: 1, min order: 0");
        self.eol();
        let slabs = self.rnd(500, 9000);
        self.kl(4);
        self.s("  node 0: slabs: ");
        self.u(slabs);
        self.s(", objs: ");
        self.u(slabs * 32);
        self.s(", free: 0");
        self.eol();
    }

    /// [`Ev::Edac`].
    fn edac(&mut self) {
        let page = self.rng.next_u64() & 0xf_ffff;
        self.kl(4);
        self.s("EDAC MC0: 1 CE memory read error on CPU_SrcID#0_Ha#0_Chan#1_DIMM#0 (channel:1 slot:0 page:0x");
        self.hexu(page);
        self.s(" offset:0x0 grain:32 syndrome:0x0 -  area:DRAM err_code:0001:0091 socket:0 ha:0 channel_mask:2 rank:0)");
        self.eol();
    }

    /// [`Ev::Nfs`].
    fn nfs(&mut self) {
        let srv = self.pick(&["nas01", "10.0.4.20", "filer-b"]);
        self.kl(5);
        self.s("nfs: server ");
        self.s(srv);
        self.s(" not responding, still trying");
        self.eol();
        self.tick(5_000_000);
        self.kl(5);
        self.s("nfs: server ");
        self.s(srv);
        self.s(" OK");
        self.eol();
    }

    /// [`Ev::Kvm`].
    fn kvm(&mut self) {
        let pid = self.pid();
        let vcpu = self.rnd(0, 15);
        let rip = self.rng.next_u64() | 0xffff_ffff_8000_0000;
        self.k();
        self.s("kvm [");
        self.u(pid);
        self.s("]: vcpu");
        self.u(vcpu);
        self.s(", guest rIP: 0x");
        self.hex(rip, 16);
        self.s(" ignored rdmsr: 0x64e data 0x0");
        self.eol();
    }

    /// [`Ev::PidsCgroup`].
    fn pids_cgroup(&mut self) {
        let unit = self.pick(UNITS);
        self.k();
        self.s("cgroup: fork rejected by pids controller in /system.slice/");
        self.s(unit);
        self.s(".service");
        self.eol();
    }

    /// [`Ev::Journald`].
    fn journald(&mut self) {
        let pid = self.daemon(0);
        let id = self.rng.next_u64();
        self.line(Src::User("systemd-journald", pid));
        match self.rng.below(4) {
            0 => {
                let n = self.rnd(2, 900);
                self.s("Missed ");
                self.u(n);
                self.s(" kernel messages");
            }
            1 => {
                self.s("/var/log/journal/");
                self.hex(id, 16);
                self.hex(id.rotate_left(17), 16);
                self.s("/system.journal: Journal header limits reached or header out-of-date, rotating.");
            }
            2 => {
                let ms = self.rnd(1, 90_000);
                self.s("Time spent on flushing to /var/log/journal/");
                self.hex(id, 16);
                self.hex(id.rotate_left(17), 16);
                self.s(" is ");
                self.u(ms / 1000);
                self.s(".");
                self.upad(ms % 1000, 3, b'0');
                self.s("ms for ");
                let n = self.rnd(100, 5000);
                self.u(n);
                self.s(" entries.");
            }
            _ => {
                let items = self.rnd(5000, 11377);
                self.s("Data hash table of /var/log/journal/");
                self.hex(id, 16);
                self.hex(id.rotate_left(17), 16);
                self.s("/system.journal has a fill level at 75.0 (");
                self.u(items);
                self.s(" of 11377 items, 6553600 file size, 576 bytes per hash table item), suggesting rotation.");
            }
        }
        self.eol();
    }

    /// [`Ev::Cron`].
    fn cron(&mut self) {
        let pid = self.pid();
        let cmd = self.pick(&[
            "(root) CMD (command -v debian-sa1 > /dev/null && debian-sa1 1 1)",
            "(root) CMD (   cd / && run-parts --report /etc/cron.hourly)",
            "(www-data) CMD (php /var/www/app/artisan schedule:run >> /dev/null 2>&1)",
            "(postgres) CMD (/usr/local/bin/pg_backup.sh > /var/log/pg_backup.log 2>&1)",
        ]);
        self.line(Src::User("CRON", pid as u32));
        self.s(cmd);
        self.eol();
    }

    /// [`Ev::BashKilled`].
    fn bash_killed(&mut self) {
        let pid = self.pid();
        let child = self.pid();
        self.line(Src::User("backup.sh", pid as u32));
        self.s("/usr/local/bin/backup.sh: line 42: ");
        self.upad(child, 6, b' ');
        self.s(" Killed                  pg_dump -Fc appdb > /backup/appdb.dump");
        self.eol();
    }

    /// [`Ev::Earlyoom`].
    fn earlyoom(&mut self) {
        let pid = self.daemon(1);
        let total = 15885u64;
        let avail = self.rnd(900, total);
        self.line(Src::User("earlyoom", pid));
        self.s("mem avail: ");
        self.upad(avail, 5, b' ');
        self.s(" of ");
        self.u(total);
        self.s(" MiB (");
        let pct = avail * 10_000 / total;
        self.upad(pct / 100, 2, b' ');
        self.s(".");
        self.upad(pct % 100, 2, b'0');
        self.s("%), swap free:    0 of    0 MiB ( 0.00%)");
        self.eol();
    }

    /// [`Ev::NetworkManager`].
    fn network_manager(&mut self) {
        let pid = self.daemon(2);
        let stamp = self.boot_epoch as u64 + self.mono_us / 1_000_000;
        let frac = self.rnd(0, 9999);
        self.line(Src::User("NetworkManager", pid));
        self.s("<info>  [");
        self.u(stamp);
        self.s(".");
        self.upad(frac, 4, b'0');
        self.s("] dhcp4 (eth0): state changed new lease, address=10.0.");
        let a = self.rnd(0, 255);
        self.u(a);
        self.s(".");
        let b = self.rnd(2, 254);
        self.u(b);
        self.eol();
    }

    /// [`Ev::Containerd`].
    fn containerd(&mut self) {
        let pid = self.daemon(4);
        let id = self.rng.next_u64();
        let id2 = self.rng.next_u64();
        self.line(Src::User("containerd", pid));
        self.s("time=\"");
        self.rfc3339_now();
        self.s("\" level=info msg=\"");
        match self.rng.below(3) {
            0 => self.s("shim disconnected\" id="),
            1 => self.s("cleaning up dead shim\" id="),
            _ => self.s("StartContainer for \\\"sidecar\\\" returns successfully\" id="),
        }
        self.hex(id, 16);
        self.hex(id2, 16);
        self.hex(id ^ id2, 16);
        self.hex(id.rotate_left(9), 16);
        self.s(" namespace=k8s.io");
        self.eol();
    }

    /// [`Ev::Dockerd`].
    fn dockerd(&mut self) {
        let pid = self.daemon(5);
        let id = self.rng.next_u64();
        self.line(Src::User("dockerd", pid));
        self.s("time=\"");
        self.rfc3339_now();
        self.s("\" level=info msg=\"Container failed to exit within 10s of signal 15 - using the force\" container=");
        self.hex(id, 16);
        self.hex(id.rotate_left(23), 16);
        self.hex(id.rotate_left(41), 16);
        self.hex(!id, 16);
        self.eol();
    }

    /// [`Ev::Sudo`].
    fn sudo(&mut self) {
        let pid = self.pid();
        self.line(Src::User("sudo", pid as u32));
        if self.rng.chance(1, 2) {
            self.s("   alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/usr/bin/systemctl restart nginx");
        } else {
            self.s(
                "pam_unix(sudo:session): session opened for user root(uid=0) by alice(uid=1000)",
            );
        }
        self.eol();
    }

    /// [`Ev::Logind`].
    fn logind(&mut self) {
        let pid = self.daemon(6);
        let n = self.rnd(1, 9000);
        self.line(Src::User("systemd-logind", pid));
        match self.rng.below(3) {
            0 => {
                self.s("New session ");
                self.u(n);
                self.s(" of user alice.");
            }
            1 => {
                self.s("Session ");
                self.u(n);
                self.s(" logged out. Waiting for processes to exit.");
            }
            _ => {
                self.s("Removed session ");
                self.u(n);
                self.s(".");
            }
        }
        self.eol();
    }

    /// [`Ev::Postgres`].
    fn postgres(&mut self) {
        let pid = self.daemon(7);
        let child = self.pid();
        self.line(Src::User("postgres", pid));
        self.s("LOG:  server process (PID ");
        self.u(child);
        self.s(") was terminated by signal 9: Killed");
        self.eol();
        self.line(Src::User("postgres", pid));
        self.s("DETAIL:  Failed process was running: SELECT * FROM events WHERE created_at > now() - interval '1 day'");
        self.eol();
        self.line(Src::User("postgres", pid));
        self.s("LOG:  terminating any other active server processes");
        self.eol();
    }

    /// [`Ev::Rsyslog`].
    fn rsyslog(&mut self) {
        let pid = self.daemon(8);
        self.line(Src::User("rsyslogd", pid));
        self.s("[origin software=\"rsyslogd\" swVersion=\"8.2312.0\" x-pid=\"");
        self.u(u64::from(pid));
        self.s("\" x-info=\"https://www.rsyslog.com\"] rsyslogd was HUPed");
        self.eol();
    }
}
