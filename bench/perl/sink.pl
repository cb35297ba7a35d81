#!/usr/bin/perl
# A sink for the loopback benchmarks that costs as little as a reader can: accepts
# connections one at a time and sysreads them into one 1 MiB buffer until EOF, so that
# the relay under test competes with as little as possible for the machine's cores.
#
#   perl bench/perl/sink.pl
#
# Prints "listening PORT", then "done BYTES START END" per connection (epoch seconds of the
# first byte and of EOF, from Time::HiRes).
use strict;
use warnings;
use IO::Socket::INET;
use Time::HiRes qw(time);

$| = 1;
my $server = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0, Listen => 128, ReuseAddr => 1, Proto => 'tcp')
    or die "sink: listen: $!\n";
print "listening ", $server->sockport, "\n";
while (my $conn = $server->accept) {
    my ($bytes, $start, $buf) = (0, undef, '');
    while (1) {
        my $n = sysread($conn, $buf, 1 << 20);
        die "sink: read: $!\n" unless defined $n;
        last if $n == 0;
        $start //= time;
        $bytes += $n;
    }
    my $end = time;
    printf "done %d %.6f %.6f\n", $bytes, ($start // $end), $end;
    close $conn;
}
