set terminal png size 900,540
set output 'rate-local.png'
set title 'rate_limit, local zone, vs live keys' noenhanced
set xlabel 'live keys'
set logscale x
set ylabel 'req/s'
set yrange [0:*]
set y2label 'MB'
set y2range [0:*]
set y2tics
set ytics nomirror
set key outside bottom center horizontal
set grid
plot 'rate-local.tsv' using 1:2 with linespoints lw 2 title 'req/s' axes x1y1, 'rate-local.tsv' using 1:6 with linespoints lw 2 title 'zone MB touched' axes x1y2
