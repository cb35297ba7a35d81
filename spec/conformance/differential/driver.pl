#!/usr/bin/env perl
# Differential conformance driver: runs scenarios (docs/conformance.md) on the real
# AnyEvent::Handle 7.17 with EV, on a loopback TCP pair, and prints one trace per scenario.
#
#   perl driver.pl < scenarios.jsonl > traces.jsonl
#
# Input: one scenario per line (JSON). Output: one line per scenario,
# {"name": ..., "trace": [event, ...]}, flushed at once, so the TypeScript side can keep
# one driver process and feed it scenarios one at a time.
#
# Idle detection: an AE::idle watcher (EV::idle), which EV only invokes when no other
# watcher is pending, after a zero-timeout poll. The loop counts as idle after IDLE_ROUNDS
# consecutive idle invocations during which nothing was recorded and the peer made no
# progress. Loopback TCP delivers within the sending system call on Linux, so a few
# rounds are plenty; the rounds only guard against a wakeup landing one poll late.
#
# Watchdog: JSON::PP's incremental parser can loop forever on partial input (docs/handle.md).
# A scenario that takes longer than WATCHDOG seconds ends its trace with
# {"ev":"hang","where":...} (where: the innermost JSON::PP sub on the stack, if any), and
# the driver exits after printing it (the caller starts a new one).
use strict;
use warnings;

use EV;
use AnyEvent;
use AnyEvent::Handle;
use IO::Socket::INET;
use Socket qw(IPPROTO_TCP TCP_NODELAY);
use Errno ();
use JSON::PP ();
use Digest::MD5 qw(md5_hex);
use POSIX ();

use constant IDLE_ROUNDS   => 3;
use constant WATCHDOG      => 3;
use constant INLINE_BYTES  => 200;

$SIG{PIPE} = 'IGNORE';
$| = 1;

my $JSON_OUT = JSON::PP->new->utf8->canonical->allow_nonref;
my $JSON_IN  = JSON::PP->new->utf8;

# ------------------------------------------------------------------ errno names

my %ERRNO_NAME = (0 => 'EOF');
{
   my %preferred = map { $_ => 1 } qw(EAGAIN EDEADLK EOPNOTSUPP);
   for my $name (sort @Errno::EXPORT_OK) {
      my $f = Errno->can ($name) or next;
      my $n = eval { $f->() };
      next unless defined $n;
      $ERRNO_NAME{$n} = $name if !exists $ERRNO_NAME{$n} || $preferred{$name};
   }
}

sub errno_name { my $n = 0 + shift; $ERRNO_NAME{$n} // "E#$n" }

# ------------------------------------------------------------------ the trace

our @TRACE;
our $ACTIVITY = 0;   # bumped by every recorded event and every bit of peer progress
our $IN_STEP  = 0;   # true while a step runs synchronously (events outside are "async")
our $HDL;            # the handle under test (for the rbuf/wbuf lengths)
our $READ_SEQ = 0;   # auto-numbering of read requests

sub rlen { my $h = shift; defined $h->{rbuf} ? length $h->{rbuf} : 0 }
sub wlen { my $h = shift; defined $h->{wbuf} ? length $h->{wbuf} : 0 }

sub record {
   my ($ev, $h) = @_;
   $h ||= $HDL;
   if ($h && !exists $ev->{r}) {
      $ev->{r} = rlen $h;
      $ev->{w} = wlen $h;
   }
   # The peer's own events are the harness, not the handle: never marked.
   $ev->{async} = JSON::PP::true unless $IN_STEP || $ev->{ev} =~ /^peer_/;
   push @TRACE, $ev;
   ++$ACTIVITY;
}

# A step marker: no lengths, never async.
sub mark { push @TRACE, { ev => 'step', i => $_[0], op => $_[1] } }

# Bytes as a JSON string of code points 0..255; long ones as length and MD5.
sub bytes_out {
   my ($s) = @_;
   return undef unless defined $s;
   utf8::downgrade ($s, 1) or utf8::encode ($s);
   return length $s <= INLINE_BYTES ? $s : { n => length $s, md5 => md5_hex $s };
}

# A data spec: a string (code points 0..255 are the bytes), {"rep": s, "n": k}, {"pat": n}.
sub data_of {
   my ($d) = @_;
   my $s;
   if (!ref $d) {
      $s = $d;
   } elsif (exists $d->{rep}) {
      $s = $d->{rep} x $d->{n};
   } elsif (exists $d->{pat}) {
      my $block = pack "C*", 0 .. 250;
      $s = substr $block x (1 + int ($d->{pat} / 251)), 0, $d->{pat};
   } else {
      die "bad data spec\n";
   }
   utf8::downgrade ($s);
   $s
}

sub re_of {
   my ($src, $flags) = @_;
   return undef unless defined $src;
   $flags //= '';
   $flags ? qr/(?$flags)$src/ : qr/$src/
}

sub clean_die {
   my ($msg) = @_;
   $msg = "$msg";
   $msg =~ s/ at \S+ line \d+(?:, <\w+> (?:line|chunk) \d+)?\.?\n?\z//;
   $msg =~ s/\n\z//;
   $msg
}

# ------------------------------------------------------------------ the peer

package Peer {
   sub new {
      my ($class, $fh) = @_;
      bless { fh => $fh, wq => '', eof => undef }, $class;
   }

   sub write {
      my ($self, $data) = @_;
      return if !$self->{fh};
      $self->{wq} .= $data;
      $self->flush;
   }

   sub flush {
      my ($self) = @_;
      while (length $self->{wq}) {
         my $len = syswrite $self->{fh}, $self->{wq};
         if (defined $len) {
            substr $self->{wq}, 0, $len, '';
            ++$main::ACTIVITY;
         } elsif ($!{EAGAIN} || $!{EINTR}) {
            last;
         } else {
            main::record ({ ev => 'peer_write_error', code => main::errno_name ($!) });
            $self->{wq} = '';
         }
      }
      if (length $self->{wq}) {
         $self->{ww} ||= AE::io $self->{fh}, 1, sub { $self->flush };
      } else {
         delete $self->{ww};
      }
   }

   # Reads up to $max bytes (undef: all there is), without blocking. Returns the bytes and
   # the end of stream seen now ('EOF', an errno name), if any.
   sub read {
      my ($self, $max) = @_;
      my $got = '';
      my $end;
      return ('', undef) if !$self->{fh} || $self->{eof};
      while (!defined $max || length $got < $max) {
         my $want = defined $max ? $max - length $got : 65536;
         $want = 65536 if $want > 65536;
         my $buf;
         my $len = sysread $self->{fh}, $buf, $want;
         if ($len) {
            $got .= $buf;
            ++$main::ACTIVITY;
         } elsif (defined $len) {
            $end = 'EOF';
            last;
         } elsif ($!{EAGAIN} || $!{EINTR}) {
            last;
         } else {
            $end = main::errno_name ($!);
            last;
         }
      }
      $self->{eof} = $end if defined $end;
      ($got, $end)
   }

   sub shutdown {
      my ($self) = @_;
      shutdown $self->{fh}, 1 if $self->{fh};
   }

   sub close {
      my ($self) = @_;
      $self->{eof} //= 'closed';
      delete $self->{ww};
      close delete $self->{fh} if $self->{fh};
   }
}

# ------------------------------------------------------------------ the loop

sub wait_idle {
   my $cv = AE::cv;
   my $quiet = 0;
   my $last = $ACTIVITY;
   my $w = AE::idle sub {
      if ($ACTIVITY == $last) {
         $cv->send if ++$quiet >= IDLE_ROUNDS;
      } else {
         $last = $ACTIVITY;
         $quiet = 0;
      }
   };
   $cv->recv;
}

my $LISTENER = IO::Socket::INET->new (
   Listen => 16, LocalAddr => '127.0.0.1', LocalPort => 0, Proto => 'tcp', ReuseAddr => 1,
) or die "listen: $!";

sub tcp_pair {
   my $client = IO::Socket::INET->new (PeerAddr => '127.0.0.1', PeerPort => $LISTENER->sockport, Proto => 'tcp')
      or die "connect: $!";
   my $server = $LISTENER->accept or die "accept: $!";
   # No Nagle: a small write must not wait in the kernel for the ACK of the one before,
   # or "idle" would come before the data (the TypeScript side does the same).
   for ($client, $server) {
      $_->blocking (0);
      setsockopt $_, IPPROTO_TCP, TCP_NODELAY, 1 or die "TCP_NODELAY: $!";
   }
   ($server, $client)
}

# ------------------------------------------------------------------ handlers and steps

# A handler spec: true (record only), a list of actions, or {"do": [...], "max": k} (the
# actions run on the first k calls only). Returns the action list and the limit.
sub handler_parts {
   my ($spec) = @_;
   return ([], undef) if !ref $spec || JSON::PP::is_bool ($spec);
   return ($spec, undef) if ref $spec eq 'ARRAY';
   ($spec->{do} || [], $spec->{max})
}

sub make_handler {
   my ($kind, $spec, $peer) = @_;
   my ($actions, $max) = handler_parts ($spec);
   my $calls = 0;
   if ($kind eq 'on_error') {
      return sub {
         my ($h, $fatal, $msg) = @_;
         my $code = errno_name ($!);
         record ({ ev => 'on_error', fatal => ($fatal ? JSON::PP::true : JSON::PP::false), code => $code, msg => "$msg" }, $h);
         run_actions ($h, $actions, $peer) if !defined $max || ++$calls <= $max;
      };
   }
   if ($kind eq 'on_read') {
      return sub {
         my ($h) = @_;
         record ({ ev => 'on_read', data => bytes_out ($h->{rbuf}) }, $h);
         run_actions ($h, $actions, $peer) if !defined $max || ++$calls <= $max;
      };
   }
   return sub {
      my ($h) = @_;
      record ({ ev => $kind }, $h);
      run_actions ($h, $actions, $peer) if !defined $max || ++$calls <= $max;
   };
}

# push_read/unshift_read arguments for a read spec.
sub read_args {
   my ($spec, $peer) = @_;
   my $t = $spec->{t};
   my $id = defined $spec->{id} ? $spec->{id} : ++$READ_SEQ;
   my ($actions, $max) = handler_parts ($spec->{do} // []);

   if ($t eq 'cb') {
      my $want = $spec->{want} // 0;
      return (sub {
         my ($h) = @_;
         if (rlen ($h) >= $want) {
            my $data = substr $h->{rbuf}, 0, $want, '';
            record ({ ev => 'read', id => $id, t => $t, args => [bytes_out $data] }, $h);
            run_actions ($h, $actions, $peer);
            return 1;
         }
         record ({ ev => 'poll', id => $id }, $h);
         return 0;
      });
   }

   my $cb = sub {
      my ($h, @args) = @_;
      my $g1 = $1;
      my @out = $t eq 'json' ? @args : map { bytes_out $_ } @args;
      push @out, bytes_out $g1 if $t eq 'regex' && $spec->{g};
      record ({ ev => 'read', id => $id, t => $t, args => \@out }, $h);
      run_actions ($h, $actions, $peer);
   };

   return (chunk => $spec->{n}, $cb) if $t eq 'chunk';
   if ($t eq 'line') {
      return (line => data_of ($spec->{eol}), $cb) if exists $spec->{eol};
      return (line => re_of ($spec->{eol_re}, $spec->{flags}), $cb) if exists $spec->{eol_re};
      return (line => $cb);
   }
   if ($t eq 'regex') {
      my @res = (re_of ($spec->{accept}, $spec->{flags}));
      push @res, re_of ($spec->{reject}, $spec->{flags}) if exists $spec->{reject} || exists $spec->{skip};
      push @res, re_of ($spec->{skip}, $spec->{flags}) if exists $spec->{skip};
      return (regex => @res, $cb);
   }
   return (netstring => $cb) if $t eq 'netstring';
   return (packstring => $spec->{fmt}, $cb) if $t eq 'packstring';
   return (json => $cb) if $t eq 'json';
   return ($t, $cb); # anything else goes to AnyEvent::Handle as it is
}

sub write_args {
   my ($d) = @_;
   return (data_of $d) if !ref $d || !exists $d->{t};
   my $t = $d->{t};
   return (netstring => data_of $d->{data}) if $t eq 'netstring';
   return (packstring => $d->{fmt}, data_of $d->{data}) if $t eq 'packstring';
   return (json => $d->{v}) if $t eq 'json';
   return ($t, data_of $d->{data});
}

sub run_actions {
   my ($h, $actions, $peer) = @_;
   run_step ($h, $_, $peer, 1) for @$actions;
}

sub state_event {
   my ($ev, $h) = @_;
   { ev => $ev, rbuf => bytes_out ($h->{rbuf} // ''), r => rlen ($h), w => wlen ($h),
     destroyed => ($h->destroyed ? JSON::PP::true : JSON::PP::false) }
}

sub run_step {
   my ($h, $step, $peer, $inside) = @_;
   my ($op, @a) = @$step;

   if ($op =~ /^peer_|^batch$|^idle$/ && $inside) {
      die "'$op' is not allowed inside a callback\n";
   }

   if    ($op eq 'write')          { $h->push_write (write_args $a[0]) }
   elsif ($op eq 'push_read')      { $h->push_read (read_args $a[0], $peer) }
   elsif ($op eq 'unshift_read')   { $h->unshift_read (read_args $a[0], $peer) }
   elsif ($op eq 'on_read')        { $h->on_read (defined $a[0] ? make_handler (on_read => $a[0], $peer) : undef) }
   elsif ($op eq 'on_eof')         { $h->on_eof (defined $a[0] ? make_handler (on_eof => $a[0], $peer) : undef) }
   elsif ($op eq 'on_drain')       { $h->on_drain (defined $a[0] ? make_handler (on_drain => $a[0], $peer) : undef) }
   elsif ($op eq 'on_error')       { $h->on_error (make_handler (on_error => $a[0] // 1, $peer)) }
   elsif ($op eq 'stop_read')      { $h->stop_read }
   elsif ($op eq 'start_read')     { $h->start_read }
   elsif ($op eq 'push_shutdown')  { $h->push_shutdown }
   elsif ($op eq 'wbuf_max')       { $h->wbuf_max ($a[0]) }
   elsif ($op eq 'rbuf_max')       { $h->rbuf_max ($a[0]) }
   elsif ($op eq 'low_water_mark') { $h->{low_water_mark} = $a[0] unless $h->destroyed }
   elsif ($op eq 'read_size')      { $h->{read_size} = $a[0] unless $h->destroyed }
   elsif ($op eq 'autocork')       { $h->autocork ($a[0] ? 1 : 0) }
   elsif ($op eq 'no_delay')       { $h->no_delay ($a[0] ? 1 : 0) }
   elsif ($op eq 'keepalive')      { $h->keepalive ($a[0] ? 1 : 0) }
   elsif ($op eq 'destroy')        { $h->destroy }
   elsif ($op eq 'consume') {
      unless ($h->destroyed) {
         my $n = $a[0] eq 'all' ? rlen ($h) : $a[0];
         $n = rlen ($h) if $n > rlen ($h);
         substr $h->{rbuf}, 0, $n, '';
      }
   }
   elsif ($op eq 'state')          { record (state_event (state => $h), $h) }
   elsif ($op eq 'peer_write')     { $peer->write (data_of $a[0]) }
   elsif ($op eq 'peer_read' || $op eq 'peer_drain') {
      my ($got, $end) = ('', undef);
      if ($op eq 'peer_read') {
         ($got, $end) = $peer->read ($a[0]);
      } else {
         # Read, let the loop settle, read again, until nothing more comes.
         for (1 .. 10000) {
            my ($more, $e) = $peer->read;
            $got .= $more;
            $end //= $e;
            last if defined $e || !length $more;
            local $IN_STEP = 0;
            wait_idle ();
         }
      }
      my $ev = { ev => 'peer_read', data => bytes_out $got };
      $ev->{eof} = $end if defined $end;
      record ($ev);
   }
   elsif ($op eq 'peer_shutdown')  { $peer->shutdown }
   elsif ($op eq 'peer_close')     { $peer->close }
   elsif ($op eq 'batch')          { run_step ($h, $_, $peer, 0) for @{ $a[0] } }
   elsif ($op eq 'idle')           { }
   else { die "unknown step '$op'\n" }
}

# ------------------------------------------------------------------ one scenario

my %OPTION = map { $_ => 1 } qw(read_size max_read_size rbuf_max wbuf_max low_water_mark autocork linger);

sub run_scenario {
   my ($sc) = @_;
   local @TRACE = ();
   local $READ_SEQ = 0;
   local $HDL;

   my ($hfh, $pfh) = tcp_pair ();
   my $peer = Peer->new ($pfh);
   undef $pfh;

   my $opts = $sc->{opts} || {};
   my %args = (json => JSON::PP->new->utf8->canonical);
   for my $k (keys %$opts) {
      if ($OPTION{$k}) {
         $args{$k} = $opts->{$k};
      } elsif ($k =~ /^on_(read|eof|drain|error)$/) {
         $args{$k} = make_handler ($k, $opts->{$k}, $peer) if defined $opts->{$k};
      } elsif ($k ne 'wbuf_max_check') {
         die "unknown option '$k'\n";
      }
   }
   $args{on_error} = make_handler (on_error => 1, $peer) unless exists $opts->{on_error};

   local $EV::DIED = sub { record ({ ev => 'die', msg => clean_die ($@) }) };

   # A signal, not a timer: the hang is inside a callback, where no timer can fire.
   local $SIG{ALRM} = sub {
      my $where = '';
      for (my $i = 0; my @c = caller $i; ++$i) {
         if ($c[3] =~ /^JSON::PP::/) { $where = $c[3]; last }
      }
      push @TRACE, { ev => 'hang', where => $where };
      print $JSON_OUT->encode ({ name => $sc->{name}, trace => \@TRACE }), "\n";
      POSIX::_exit (0);
   };
   alarm WATCHDOG;

   {
      local $IN_STEP = 1;
      mark (0, 'new');
      $HDL = eval { AnyEvent::Handle->new (fh => $hfh, %args) };
      record ({ ev => 'die', msg => clean_die ($@) }) if $@;
      # new returns nothing when the handle was destroyed during construction (by a
      # callback); go on with a destroyed handle, which is what the callbacks saw and
      # what a JavaScript constructor returns (CTOR_UNDEF in differences.ts).
      $HDL ||= bless {}, 'AnyEvent::Handle::destroyed' unless $@;
      undef $hfh;
   }
   wait_idle ();

   my $i = 0;
   for my $step (@{ $sc->{steps} || [] }) {
      ++$i;
      local $IN_STEP = 1;
      mark ($i, $step->[0]);
      if ($HDL) {
         eval { run_step ($HDL, $step, $peer, 0); 1 } or record ({ ev => 'die', msg => clean_die ($@) });
      }
      $IN_STEP = 0;
      wait_idle ();
   }

   # The end: the handle's state, then destroy (lingering), then what the peer still gets.
   {
      local $IN_STEP = 1;
      if ($HDL) {
         record (state_event (end => $HDL), $HDL);
         $HDL->destroy;
      }
      undef $HDL;
   }
   wait_idle ();
   {
      local $IN_STEP = 1;
      my ($got, $end) = ('', $peer->{eof});
      for (1 .. 10000) {
         last if defined $end;
         my ($more, $e) = $peer->read;
         $got .= $more;
         $end //= $e;
         last if defined $e || !length $more;
         local $IN_STEP = 0;
         wait_idle ();
      }
      push @TRACE, { ev => 'peer_end', data => bytes_out ($got), eof => $end // 'open' };
   }
   $peer->close;
   alarm 0;
   { name => $sc->{name}, trace => \@TRACE }
}

# ------------------------------------------------------------------ main

while (my $line = <STDIN>) {
   next unless $line =~ /\S/;
   my $sc = $JSON_IN->decode ($line);
   my $result = eval { run_scenario ($sc) } || { name => $sc->{name}, error => clean_die ($@) };
   print $JSON_OUT->encode ($result), "\n";
}
