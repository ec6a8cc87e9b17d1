# joulebench plot: J/token, local vs cloud-equivalent figures, with low-high ranges, log scale.
# usage: gnuplot -c scripts/plot-jpt-cloud.gp DATA.dat OUTBASE "TITLE" ANY_ESTIMATED(0|1)
#   DATA.dat: idx "label" j_per_token low high kind
#   kind: 0 local measured, 1 local ESTIMATED, 2 cloud same-model estimate, 3 cloud published figure
# Writes OUTBASE.png and OUTBASE.svg.
if (ARGC < 4) { print "usage: gnuplot -c plot-jpt-cloud.gp DATA.dat OUTBASE TITLE ESTIMATED"; exit status 2 }
png_term = (strstrt(GPVAL_TERMINALS, "pngcairo") > 0) ? "pngcairo" : "png"
eval("set terminal ".png_term." size 1000,560 font 'sans,10'")
set output ARG2.".png"
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
set label 2 "cloud bars are estimates from cited models\nand published figures (see report)" at screen 0.98, 0.55 right font ",9"
if (int(ARG4)) { set label 1 "local energy ESTIMATED (a model, not a measurement)" at graph 0.5, 0.95 center textcolor rgb "#c00000" font ",13" front }
plot ARG1 using 1:3:($6+21):xtic(2) with boxes lc variable notitle, \
     ARG1 using 1:3:4:5 with yerrorbars pt 0 lc rgb "black" title "low-high range / 95% CI", \
     keyentry with boxes lc 21 title "local, measured", keyentry with boxes lc 22 title "local, ESTIMATED", \
     keyentry with boxes lc 23 title "cloud, same model (estimate)", keyentry with boxes lc 24 title "cloud, published per-prompt"
set terminal svg size 1000,560 dynamic font 'sans,10'
set output ARG2.".svg"
replot
unset output
