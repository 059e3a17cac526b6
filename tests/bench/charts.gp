# charts.gp - the benchmark charts (gnuplot 5). Called by tests/bench/report.sh:
#   gnuplot -e "dat='DIR'; out='DIR'; ids='ozip-6 xz-9e ...'; pays=0|1; paysid='ozip-6'; paysfile='NAME'; note='...'" charts.gp
# reading what report.sh wrote in dat: bpb.dat, speed.dat, total.dat, pays.dat.
# note (the run's label, may be empty) is printed in red on every chart, so a
# smoke run's chart cannot pass for a result.

set terminal pngcairo size 1400,640 font "DejaVu Sans,11" noenhanced
set datafile missing "-"
set style fill solid 0.9 border rgb "#404040"
set grid ytics lc rgb "#d0d0d0"
set key noautotitle

# one colour per compressor: ozip in reds (darker = higher level), the classic
# tools in colours of their own, the same in every chart
col(s) = s eq "ozip-1" ? "#fb8a6a" : s eq "ozip-9" || s eq "ozip-8" ? "#99000d" : s[1:4] eq "ozip" ? "#de2d26" : \
         s eq "gzip-9" ? "#969696" : s eq "bzip2-9" ? "#74c476" : s eq "xz-9e" ? "#3182bd" : \
         s eq "zstd-19" ? "#9e9ac8" : s eq "brotli-11" ? "#e6a024" : "#000000"
n = words(ids)

# ---- bits per byte, every file, every compressor
labelled = 'if (strlen(note) > 0) { set label 1 note at screen 0.005, screen 0.025 left tc rgb "#cc0000" font ",12" }'
@labelled
set output out."/bench-bpb.png"
set title "Bits per byte by file (lower is better; ozip's size includes its model)"
set ylabel "bits per byte"
set style data histogram
set style histogram cluster gap 1
set boxwidth 0.9
set xtics rotate by -25 scale 0 nomirror
set yrange [0:*]
set key outside right top vertical
set bmargin 11
plot for [i=1:n] dat."/bpb.dat" using i+1:xtic(1) title word(ids, i) lc rgb col(word(ids, i))

# ---- ratio against speed: one small dot per file, one large mark for all files together
reset
set terminal pngcairo size 1400,640 font "DejaVu Sans,11" noenhanced
set output out."/bench-speed.png"
@labelled
set datafile missing "-"
set grid lc rgb "#d0d0d0"
set key outside right top vertical
set logscale x
set format x "%g"
# both panels on the same whole decades (this also keeps gnuplot 5.4 from
# crashing on a log axis whose range is a single point)
stats dat."/speed.dat" using 3 nooutput
lo = STATS_min; hi = STATS_max
stats dat."/speed.dat" using 4 nooutput
lo = STATS_min < lo ? STATS_min : lo; hi = STATS_max > hi ? STATS_max : hi
set xrange [10**floor(log10(lo)) : 10**(floor(log10(hi)) + 1)]
set yrange [0:*]
set ylabel "ratio (original / compressed)"
set multiplot layout 1,2 title "Ratio against speed: dots are files, diamonds all files together (up and right is better)"
# the two panels differ only in the speed column C (3 compress, 4 decompress)
marks = 'for [i=1:n] dat."/speed.dat" using (strcol(1) eq word(ids, i) ? column(C) : NaN):2 ' . \
            'with points pt 7 ps 0.7 lc rgb col(word(ids, i)) notitle, ' . \
        'for [i=1:n] dat."/total.dat" using (strcol(1) eq word(ids, i) ? column(C) : NaN):2 ' . \
            'with points pt 13 ps 2.5 lc rgb col(word(ids, i)) title word(ids, i)'
C = 3
set xlabel "compress speed, MB/s (log scale)"
# (no text labels: the key names every colour, and labels of nearby diamonds overprint)
plot @marks
C = 4
set xlabel "decompress speed, MB/s (log scale)"
set key off
plot @marks
unset multiplot

if (!pays) exit

# ---- does the model pay? stacked ozip bars (model + streams) beside xz, per slice
reset
set terminal pngcairo size 1100,600 font "DejaVu Sans,11" noenhanced
set output out."/bench-pays.png"
@labelled
set title "Does the model pay? ".paysid." on the first bytes of ".paysfile.", against xz -9e"
set ylabel "bits per byte (lower is better)"
set bmargin 4
set style fill solid 0.9 border rgb "#404040"
set grid ytics lc rgb "#d0d0d0"
set key top right
set boxwidth 0.36
set yrange [0:*]
set offsets 0.5, 0.5, 0, 0
set xtics scale 0
# pays.dat: slice bytes model_bpb rest_bpb xz_bpb fallback id methods
# (the model part is drawn over the whole ozip bar, from 0; labels: each bar's
# total on top, and inside an ozip bar that holds no model, what coded it)
plot dat."/pays.dat" using ($0 - 0.19):($3 + $4) with boxes lc rgb "#fcbba1" title "ozip: streams + header", \
     '' using ($0 - 0.19):3 with boxes lc rgb "#de2d26" title "ozip: model", \
     '' using ($0 + 0.19):5 with boxes lc rgb col("xz-9e") title "xz -9e", \
     '' using 0:(NaN):xtic(sprintf("%s\n%d bytes", strcol(1), $2)) notitle, \
     '' using ($0 - 0.19):($3 + $4):(sprintf("%.3f", $3 + $4)) with labels offset 0,0.7 font ",9" notitle, \
     '' using ($0 - 0.19):($6 > 0 ? ($3 + $4) / 2 : NaN):("no model:\nclassic\nfallback") with labels font ",9" notitle, \
     '' using ($0 + 0.19):5:(sprintf("%.3f", $5)) with labels offset 0,0.7 font ",9" notitle
