# joulebench plot: a metric over time from the results store (`joulebench history --plot`).
# usage: gnuplot -c scripts/plot-history.gp DATA.dat OUTBASE "TITLE" "UNIT" N_SERIES
#   DATA.dat: one block per series (machine, model, configuration), two blank lines apart; each
#   block starts with a header line "series name" "value", then rows: created_utc(ISO 8601) value
# Writes OUTBASE.png and OUTBASE.svg.
if (ARGC < 5) { print "usage: gnuplot -c plot-history.gp DATA.dat OUTBASE TITLE UNIT N_SERIES"; exit status 2 }
n = int(ARG5)
png_term = (strstrt(GPVAL_TERMINALS, "pngcairo") > 0) ? "pngcairo" : "png"
eval("set terminal ".png_term." size 1000,560 font 'sans,10'")
set output ARG2.".png"
set title ARG3 noenhanced
set xdata time
set timefmt "%Y-%m-%dT%H:%M:%S"
set format x "%Y-%m-%d\n%H:%M"
set ylabel ARG4 noenhanced
set grid
set key outside bottom center horizontal noenhanced
if (n < 1) { set label 1 "no values" at graph 0.5, 0.5 center; plot [0:1] [0:1] NaN notitle } else { plot for [i=0:n-1] ARG1 index i using 1:2 with linespoints pt 7 ps 0.6 title columnheader(1) }
set terminal svg size 1000,560 dynamic font 'sans,10'
set output ARG2.".svg"
replot
unset output
