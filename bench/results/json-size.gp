set terminal png size 900,540
set output 'json-size.png'
set title 'JSON trimming (json_fields "id,price", 22% kept) vs document size' noenhanced
set xlabel 'document size (bytes)'
set logscale x
set ylabel 'MB/s'
set yrange [0:*]
set y2label 'MB'
set y2range [0:*]
set y2tics
set ytics nomirror
set key outside bottom center horizontal
set grid
plot 'json-size.tsv' using 1:3 with linespoints lw 2 title 'MB/s of input' axes x1y1, 'json-size.tsv' using 1:7 with linespoints lw 2 title 'worker peak RSS (MB)' axes x1y2
