# The latency/staleness plot of one bench/run: left, webhook ack latency percentiles per server and
# concurrency; right, the e2e runs' ack latency and staleness (ack until Memcached shows the row).
# Data files come from `loadgen report --plot-dir`. Log scale: the spread is 0.1 ms to seconds.
#
#   gnuplot -e "datadir='bench/out/plot'; outfile='bench/out/latency.png'" bench/plot.gp
if (!exists("datadir")) datadir = "bench/out/plot"
if (!exists("outfile")) outfile = "bench/out/latency.png"

set terminal pngcairo size 1500,620 font "sans,10"
set output outfile
set termoption noenhanced
set multiplot layout 1,2 title "revalidator bench/run (2 cores, loopback, load generator included)"
set logscale y
set format y "%g"
set ylabel "milliseconds (log scale)"
set grid ytics mytics
set key top left box opaque
set style data linespoints

# Columns come in pairs (one server at two concurrencies; one e2e run's ack and staleness): one
# colour per pair, solid for the first of it, dashed for the second.
set title "Webhook ack latency, closed loop"
plot for [i=2:*] datadir."/ack.dat" using i:xtic(1) title columnheader(i) lw 2 \
     lc ((i-2)/2 + 1) dt 1+i%2

set title "E2E: ack latency and staleness (ack -> Memcached shows the row)"
plot for [i=2:*] datadir."/e2e.dat" using i:xtic(1) title columnheader(i) lw 2 \
     lc ((i-2)/2 + 1) dt 1+i%2

unset multiplot
