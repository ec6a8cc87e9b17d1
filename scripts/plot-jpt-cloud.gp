# joulebench plot: J/token, local vs cloud-equivalent figures, with low-high ranges, log scale.
# usage: gnuplot -c scripts/plot-jpt-cloud.gp DATA.dat OUTBASE "TITLE" ANY_ESTIMATED(0|1) KINDS
#   DATA.dat: idx "label" j_per_token low high kind
#   kind: 0 local measured, 1 local ESTIMATED, 2 cloud same-model estimate, 3 cloud published figure
#   KINDS: the kinds present in DATA.dat as digits (e.g. "023"); the legend lists only those
# Writes OUTBASE.png and OUTBASE.svg.
if (ARGC < 5) { print "usage: gnuplot -c plot-jpt-cloud.gp DATA.dat OUTBASE TITLE ESTIMATED KINDS"; exit status 2 }
kinds = ARG5
set title ARG3 noenhanced
set ylabel "J per generated token (log scale)"
set logscale y
set grid ytics mytics
set style fill solid 0.6 border -1
set boxwidth 0.6
set xtics rotate by -35 noenhanced
set key outside right top
set datafile missing "?"
set linetype 21 lc rgb "#2ca02c"
set linetype 22 lc rgb "#d62728"
set linetype 23 lc rgb "#1f77b4"
set linetype 24 lc rgb "#7f7f7f"
if (strstrt(kinds, "2") || strstrt(kinds, "3")) { set label 2 "cloud bars are estimates from cited models\nand published figures (see report)" at screen 0.98, 0.55 right font ",9" }
if (int(ARG4)) { set label 1 "local energy ESTIMATED (a model, not a measurement)" at graph 0.5, 0.95 center textcolor rgb "#c00000" font ",13" front }
cmd = "plot ARG1 using 1:3:($6+21):xtic(2) with boxes lc variable notitle, ARG1 using 1:3:4:5 with yerrorbars pt 0 lc rgb 'black' title 'low-high range / 95% CI'"
if (strstrt(kinds, "0")) { cmd = cmd . ", keyentry with boxes lc 21 title 'local, measured'" }
if (strstrt(kinds, "1")) { cmd = cmd . ", keyentry with boxes lc 22 title 'local, ESTIMATED'" }
if (strstrt(kinds, "2")) { cmd = cmd . ", keyentry with boxes lc 23 title 'cloud, same model (estimate)'" }
if (strstrt(kinds, "3")) { cmd = cmd . ", keyentry with boxes lc 24 title 'cloud, published per-prompt'" }
png_term = (strstrt(GPVAL_TERMINALS, "pngcairo") > 0) ? "pngcairo" : "png"
eval("set terminal ".png_term." size 1000,560 font 'sans,10'")
set output ARG2.".png"
eval(cmd)
set terminal svg size 1000,560 dynamic font 'sans,10'
set output ARG2.".svg"
eval(cmd)
unset output
