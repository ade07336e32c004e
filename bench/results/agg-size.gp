set terminal png size 900,540
set output 'agg-size.png'
set title 'aggregation of 3 parts (static files) vs part size' noenhanced
set xlabel 'part size (bytes)'
set logscale x
set ylabel 'req/s'
set yrange [0:*]
set y2label 'us'
set y2range [0:*]
set y2tics
set ytics nomirror
set key outside bottom center horizontal
set grid
plot 'agg-size.tsv' using 1:2 with linespoints lw 2 title 'req/s' axes x1y1, 'agg-size.tsv' using 1:5 with linespoints lw 2 title 'CPU us per request' axes x1y2
