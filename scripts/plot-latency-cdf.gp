# joulebench plot: cumulative distribution of inter-token latency, one curve per result.
# usage: gnuplot -c scripts/plot-latency-cdf.gp DATA.dat OUTBASE "TITLE"
#   DATA.dat: blocks separated by two blank lines; each block starts with a quoted title line,
#             then rows: latency_ms cumulative_fraction
# Writes OUTBASE.png and OUTBASE.svg.
if (ARGC < 3) { print "usage: gnuplot -c plot-latency-cdf.gp DATA.dat OUTBASE TITLE"; exit status 2 }
png_term = (strstrt(GPVAL_TERMINALS, "pngcairo") > 0) ? "pngcairo" : "png"
eval("set terminal ".png_term." size 900,520 font 'sans,10'")
set output ARG2.".png"
set title ARG3 noenhanced
set xlabel "inter-token latency (ms, log scale)"
set ylabel "fraction of tokens"
stats ARG1 using 2 nooutput
nb = STATS_blocks
set logscale x
set yrange [0:1.02]
set grid
set key bottom right noenhanced
set arrow 1 from graph 0, first 0.99 to graph 1, first 0.99 nohead dt 3 lc rgb "#888888"
set label 3 "p99" at graph 0.01, first 0.97 font ",9"
plot for [i=0:nb-1] ARG1 index i using 1:2 with steps lw 2 title columnheader(1)
set terminal svg size 900,520 dynamic font 'sans,10'
set output ARG2.".svg"
replot
unset output
