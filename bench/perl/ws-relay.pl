#!/usr/bin/perl
# The Perl reference for the WebSocket benchmark: pveproxy's websocket_proxy (in
# PVE::APIServer::AnyEvent) with the #7483 patch, on the real AnyEvent::Handle: the
# original $hdlreader loop (header checks, the 16/64-bit length, the masking key repeated
# to the payload length and XORed as a string), $encode for backend-to-client frames, and
# apply_read_backpressure at 5 x 128 KiB both ways.
#
#   perl bench/perl/ws-relay.pl TARGET_PORT
#
# Reads the upgrade request head (any path), connects to 127.0.0.1:TARGET_PORT, answers 101.
# Listens on 127.0.0.1, an ephemeral port, printed as "listening PORT" on stdout.
#
# One difference from pveproxy, as in the TypeScript port: the client handle's rbuf_max is
# the largest frame (128 KiB + 14) instead of the accept-time 64 KiB, which would make every
# 128 KiB frame a fatal ENOSPC.
use strict;
use warnings;
use AnyEvent;
use AnyEvent::Handle;
use AnyEvent::Socket;
use FindBin;
use lib $FindBin::Bin;
use PveRelay qw(apply_read_backpressure client_do_disconnect serve);
use Digest::SHA qw(sha1_base64);

my $target = shift // die "usage: ws-relay.pl TARGET_PORT\n";

sub websocket_proxy {
    my ($reqstate, $wsaccept, $wsproto) = @_;

    my $max_payload_size = 128 * 1024;

    tcp_connect '127.0.0.1', $target, sub {
        my ($fh) = @_
            or die "connect to '127.0.0.1:$target' failed: $!";

        my $wbuf_limit = $max_payload_size * 5;

        my $proxyhdlreader;
        my $hdlreader;

        my $encode = sub {
            my ($data, $opcode) = @_;

            my $string;
            my $payload;

            $string = $opcode ? $opcode : "\x82"; # binary frame
            $payload = $$data;

            my $payload_len = length($payload);
            if ($payload_len <= 125) {
                $string .= pack 'C', $payload_len;
            } elsif ($payload_len <= 0xffff) {
                $string .= pack 'C', 126;
                $string .= pack 'n', $payload_len;
            } else {
                $string .= pack 'C', 127;
                $string .= pack 'Q>', $payload_len;
            }
            $string .= $payload;
            return $string;
        };

        $reqstate->{proxyhdl} = AnyEvent::Handle->new(
            fh => $fh,
            rbuf_max => $max_payload_size,
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
            my $data =
                substr($hdl->{rbuf}, 0, $len > $max_payload_size ? $max_payload_size : $len, '');

            $clienthdl->push_write($encode->(\$data));

            if (!$no_backpressure && length($clienthdl->{wbuf}) > $wbuf_limit) {
                apply_read_backpressure($hdl, $clienthdl, $proxyhdlreader);
            }
        };

        $hdlreader = sub {
            my ($hdl, $no_backpressure) = @_;

            while (my $len = length($hdl->{rbuf})) {
                return if $len < 2;

                my $hdr = unpack('C', substr($hdl->{rbuf}, 0, 1));
                my $opcode = $hdr & 0b00001111;
                my $fin = $hdr & 0b10000000;

                die "received fragmented websocket frame\n" if !$fin;

                my $rsv = $hdr & 0b01110000;
                die "received websocket frame with RSV flags\n" if $rsv;

                my $payload_len = unpack 'C', substr($hdl->{rbuf}, 1, 1);

                my $masked = $payload_len & 0b10000000;
                die "received unmasked websocket frame from client\n" if !$masked;

                my $offset = 2;
                $payload_len = $payload_len & 0b01111111;
                if ($payload_len == 126) {
                    return if $len < 4;
                    $payload_len = unpack('n', substr($hdl->{rbuf}, $offset, 2));
                    $offset += 2;
                } elsif ($payload_len == 127) {
                    return if $len < 10;
                    $payload_len = unpack('Q>', substr($hdl->{rbuf}, $offset, 8));
                    $offset += 8;
                }

                die "received too large websocket frame (len = $payload_len)\n"
                    if ($payload_len > $max_payload_size) || ($payload_len < 0);

                return if $len < ($offset + 4 + $payload_len);

                my $data = substr($hdl->{rbuf}, 0, $offset + 4 + $payload_len, ''); # now consume data

                my $mask = substr($data, $offset, 4);
                $offset += 4;

                my $payload = substr($data, $offset);

                # NULL-mask might be used over TLS, skip to increase performance
                if ($mask ne pack('N', 0)) {
                    # repeat 4 byte mask to payload length + up to 4 byte
                    $mask = $mask x (int($payload_len / 4) + 1);
                    # truncate mask to payload length
                    substr($mask, $payload_len) = "";
                    # (un-)apply mask
                    $payload ^= $mask;
                }

                if ($opcode == 1 || $opcode == 2) {
                    my $proxyhdl = $reqstate->{proxyhdl};
                    if ($proxyhdl) {
                        $proxyhdl->push_write($payload);
                        if (!$no_backpressure && length($proxyhdl->{wbuf}) > $wbuf_limit) {
                            apply_read_backpressure($hdl, $proxyhdl, $hdlreader);
                            return;
                        }
                    }
                } elsif ($opcode == 8) {
                    my $statuscode = unpack("n", $payload);
                    if ($reqstate->{proxyhdl}) {
                        $reqstate->{proxyhdl}->push_shutdown();
                    }
                    $hdl->push_shutdown();
                } elsif ($opcode == 9) {
                    # ping received, schedule pong
                    $reqstate->{hdl}->push_write($encode->(\$payload, "\x8A")) if $reqstate->{hdl};
                } elsif ($opcode == 0xA) {
                    # pong received, continue
                } else {
                    die "received unhandled websocket opcode $opcode\n";
                }
            }
        };

        $reqstate->{hdl}->timeout(0);
        $reqstate->{hdl}->rbuf_max($max_payload_size + 14);
        $reqstate->{proxyhdl}->timeout(0);
        $reqstate->{proxyhdl}->on_read($proxyhdlreader);
        $reqstate->{hdl}->on_read($hdlreader);
        $reqstate->{hdl}->on_eof(sub {
            my ($hdl) = @_;
            eval { $hdlreader->($hdl, 1) if length($hdl->{rbuf}) >= 2; };
            client_do_disconnect($reqstate);
        });

        my $res = "HTTP/1.1 101 Switching Protocols\015\012" .
            "Upgrade: websocket\015\012" .
            "Connection: upgrade\015\012" .
            "Sec-WebSocket-Accept: $wsaccept\015\012" .
            ($wsproto ne "" ? "Sec-WebSocket-Protocol: $wsproto\015\012" : "") .
            "\015\012";

        $reqstate->{hdl}->push_write($res);
    };
}

sub handle_connection {
    my ($clientfh) = @_;
    my $reqstate = {};
    my %headers;
    $reqstate->{hdl} = AnyEvent::Handle->new(
        fh => $clientfh,
        rbuf_max => 64 * 1024,
        timeout => 0,
        on_eof => sub { client_do_disconnect($reqstate) },
        on_error => sub { client_do_disconnect($reqstate) },
    );
    my $header_reader;
    $header_reader = sub {
        my ($hdl, $line) = @_;
        if ($line ne '') {
            $headers{lc $1} = $2 if $line =~ /^([^:]+):\s*(.*)$/;
            $hdl->push_read(line => $header_reader);
            return;
        }
        undef $header_reader;
        my $key = $headers{'sec-websocket-key'} // '';
        my $wsaccept = sha1_base64($key . "258EAFA5-E914-47DA-95CA-C5AB0DC85B11") . '=';
        my ($wsproto) = split /\s*,\s*/, ($headers{'sec-websocket-protocol'} // '');
        websocket_proxy($reqstate, $wsaccept, $wsproto // '');
    };
    $reqstate->{hdl}->push_read(line => sub {
        my ($hdl, $request_line) = @_;
        $hdl->push_read(line => $header_reader);
    });
}

serve(\&handle_connection);
