/*
 * The iperf app ("iperf", port 5001): lwIP's lwiperf server (lwIP 2.1.3
 * src/apps/lwiperf), which speaks the iperf 2 TCP protocol: `iperf -c
 * <guest>` measures how fast the guest receives. Each finished session is
 * logged and counted in /stats as "iperf".
 */
#ifndef APPS_IPERF_H
#define APPS_IPERF_H

#define IPERF_DEFAULT_PORT 5001

#endif
