# What the two Perl reference relays (relay.pl, ws-relay.pl) share: the #7483 patch's
# apply_read_backpressure and pveproxy's client_do_disconnect, verbatim, and the listener
# that prints "listening PORT LOOP" for the benchmarks.
package PveRelay;
use strict;
use warnings;
use AnyEvent;
use AnyEvent::Socket;
use Exporter 'import';
our @EXPORT_OK = qw(apply_read_backpressure client_do_disconnect serve);

# The patch's helper, verbatim.
sub apply_read_backpressure {
    my ($read_hdl, $write_hdl, $on_read_cb) = @_;

    $read_hdl->on_read();
    my $prev_on_drain = $write_hdl->{on_drain};
    $write_hdl->on_drain(sub {
        my ($wrhdl) = @_;
        $read_hdl->on_read($on_read_cb);
        if ($prev_on_drain) {
            $wrhdl->on_drain($prev_on_drain);
            $prev_on_drain->($wrhdl);
        }
    });
}

sub client_do_disconnect {
    my ($reqstate) = @_;
    for my $key (qw(proxyhdl hdl)) {
        my $hdl = delete $reqstate->{$key} or next;
        $hdl->on_drain(undef);
        $hdl->on_read(undef);
        $hdl->on_eof(undef);
        $hdl->destroy;
    }
}

# Listens on 127.0.0.1, an ephemeral port, printed as "listening PORT LOOP" on stdout;
# each connection goes to $on_connection->($fh); runs the loop for ever.
sub serve {
    my ($on_connection) = @_;
    $| = 1;
    tcp_server '127.0.0.1', 0, sub { $on_connection->($_[0]) }, sub {
        my (undef, $host, $port) = @_;
        print "listening $port " . AnyEvent::detect() . "\n";
        return 0;
    };
    AnyEvent->condvar->recv;
}

1;
