#!/usr/bin/perl
# The Perl reference for the raw relay benchmark: pveproxy's SPICE relay
# (handle_spice_proxy_request in PVE::APIServer::AnyEvent) with the #7483 patch's
# apply_read_backpressure, on the real AnyEvent::Handle, as a plain port forwarder
# (no CONNECT head, no TLS).
#
#   perl bench/perl/relay.pl TARGET_PORT
#
# Listens on 127.0.0.1, an ephemeral port, printed as "listening PORT" on stdout.
use strict;
use warnings;
use AnyEvent;
use AnyEvent::Handle;
use AnyEvent::Socket;
use FindBin;
use lib $FindBin::Bin;
use PveRelay qw(apply_read_backpressure client_do_disconnect serve);

my $target = shift // die "usage: relay.pl TARGET_PORT\n";

sub handle_connection {
    my ($clientfh) = @_;
    my $reqstate = {};
    # As pveproxy's accept: a 64 KiB rbuf_max on the client handle.
    $reqstate->{hdl} = AnyEvent::Handle->new(
        fh => $clientfh,
        rbuf_max => 64 * 1024,
        timeout => 0,
        on_eof => sub { client_do_disconnect($reqstate) },
        on_error => sub { client_do_disconnect($reqstate) },
    );
    my $wbuf_limit = 64 * 10 * 1024;

    tcp_connect '127.0.0.1', $target, sub {
        my ($fh) = @_
            or die "connect to '127.0.0.1:$target' failed: $!";

        my $proxyhdlreader;

        $reqstate->{proxyhdl} = AnyEvent::Handle->new(
            fh => $fh,
            rbuf_max => 64 * 1024,
            timeout => 5,
            on_eof => sub {
                my ($hdl) = @_;
                $proxyhdlreader->($hdl, 1) while length($hdl->{rbuf}) && $reqstate->{hdl};
                client_do_disconnect($reqstate);
            },
            on_error => sub { client_do_disconnect($reqstate) },
        );

        $proxyhdlreader = sub {
            my ($hdl, $no_backpressure) = @_;

            my $clienthdl = $reqstate->{hdl};
            return if !$clienthdl;

            my $len = length($hdl->{rbuf});
            my $data = substr($hdl->{rbuf}, 0, $len, '');
            $clienthdl->push_write($data);

            if (!$no_backpressure && length($clienthdl->{wbuf}) > $wbuf_limit) {
                apply_read_backpressure($hdl, $clienthdl, $proxyhdlreader);
            }
        };

        my $hdlreader;
        $hdlreader = sub {
            my ($hdl, $no_backpressure) = @_;

            my $proxyhdl = $reqstate->{proxyhdl};
            return if !$proxyhdl;

            my $len = length($hdl->{rbuf});
            my $data = substr($hdl->{rbuf}, 0, $len, '');
            $proxyhdl->push_write($data);

            if (!$no_backpressure && length($proxyhdl->{wbuf}) > $wbuf_limit) {
                apply_read_backpressure($hdl, $proxyhdl, $hdlreader);
            }
        };

        $reqstate->{proxyhdl}->timeout(0);
        $reqstate->{proxyhdl}->on_read($proxyhdlreader);
        $reqstate->{hdl}->on_read($hdlreader);
        $reqstate->{hdl}->on_eof(sub {
            my ($hdl) = @_;
            $hdlreader->($hdl, 1) while length($hdl->{rbuf}) && $reqstate->{proxyhdl};
            client_do_disconnect($reqstate);
        });
    };
}

serve(\&handle_connection);
