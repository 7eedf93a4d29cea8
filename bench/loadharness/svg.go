package main

import (
	"fmt"
	"html"
	"math"
	"strings"
)

// Colours of the groups.
var groupColor = map[Group]string{
	GroupBaseline:   "#7f7f7f",
	GroupModule:     "#1f77b4",
	GroupExpression: "#ff7f0e",
	GroupReload:     "#9467bd",
}

// Bar is one horizontal bar: a median with a min-max whisker.
type Bar struct {
	Label   string
	Value   float64
	Lo, Hi  float64
	Color   string
	Comment string // printed after the value
}

// niceMax rounds v up to a round axis maximum.
func niceMax(v float64) float64 {
	if v <= 0 || math.IsNaN(v) {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10} {
		if m*p >= v {
			return m * p
		}
	}
	return 10 * p
}

// thousands writes n with thousands separators.
func thousands(n float64) string {
	if math.IsNaN(n) {
		return "n/a"
	}
	s := fmt.Sprintf("%.0f", n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

func esc(s string) string { return html.EscapeString(s) }

// svgHeader opens an SVG of the given size with a title and subtitle.
func svgHeader(b *strings.Builder, w, h int, title, subtitle string) {
	fmt.Fprintf(b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="Helvetica, Arial, sans-serif" font-size="12">`+"\n", w, h, w, h)
	fmt.Fprintf(b, `<rect width="%d" height="%d" fill="#ffffff"/>`+"\n", w, h)
	fmt.Fprintf(b, `<text x="16" y="24" font-size="16" font-weight="bold">%s</text>`+"\n", esc(title))
	fmt.Fprintf(b, `<text x="16" y="42" fill="#555555">%s</text>`+"\n", esc(subtitle))
}

// HBarChart draws labelled horizontal bars with min-max whiskers.
func HBarChart(title, subtitle, unit string, bars []Bar) string {
	const (
		width  = 960
		left   = 300 // label column
		right  = 250 // value column
		top    = 60
		rowH   = 28
		barH   = 18
		bottom = 40
	)
	plotW := float64(width - left - right)
	max := 0.0
	for _, br := range bars {
		max = math.Max(max, math.Max(br.Value, br.Hi))
	}
	max = niceMax(max)
	height := top + rowH*len(bars) + bottom
	var b strings.Builder
	svgHeader(&b, width, height, title, subtitle)
	x := func(v float64) float64 {
		if math.IsNaN(v) {
			v = 0
		}
		return float64(left) + plotW*v/max
	}
	// grid
	for i := 0; i <= 5; i++ {
		v := max * float64(i) / 5
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#e0e0e0"/>`+"\n", x(v), top-6, x(v), top+rowH*len(bars))
		tick := thousands(v)
		if max < 100 {
			tick = fmt.Sprintf("%g", math.Round(v*100)/100)
		}
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle" fill="#555555">%s</text>`+"\n", x(v), top+rowH*len(bars)+16, tick)
	}
	fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle" fill="#555555">%s</text>`+"\n", float64(left)+plotW/2, height-6, esc(unit))
	for i, br := range bars {
		y := top + rowH*i
		fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="end">%s</text>`+"\n", left-8, y+barH-4, esc(br.Label))
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%.1f" height="%d" fill="%s"/>`+"\n", left, y, x(br.Value)-float64(left), barH, br.Color)
		if !math.IsNaN(br.Lo) && !math.IsNaN(br.Hi) && br.Hi > br.Lo {
			cy := y + barH/2
			fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#222222"/>`+"\n", x(br.Lo), cy, x(br.Hi), cy)
			fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#222222"/>`+"\n", x(br.Lo), cy-4, x(br.Lo), cy+4)
			fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#222222"/>`+"\n", x(br.Hi), cy-4, x(br.Hi), cy+4)
		}
		label := thousands(br.Value)
		if br.Value < 100 {
			label = fmt.Sprintf("%.2f", br.Value)
		}
		if br.Comment != "" {
			label += "  " + br.Comment
		}
		fmt.Fprintf(&b, `<text x="%d" y="%d">%s</text>`+"\n", width-right+8, y+barH-4, esc(label))
	}
	b.WriteString("</svg>\n")
	return b.String()
}

// Series is one set of bars of a grouped chart, one value per group.
type Series struct {
	Name   string
	Color  string
	Values []float64
	Lo, Hi []float64
}

// GroupedBarChart draws vertical bars, one per series in every group, and
// an optional dashed reference line.
func GroupedBarChart(title, subtitle, xLabel, yLabel string, groups []string, series []Series, ref float64, refLabel string) string {
	const (
		width  = 960
		height = 480
		left   = 90
		right  = 30
		top    = 80
		bottom = 70
	)
	plotW, plotH := float64(width-left-right), float64(height-top-bottom)
	max := ref
	for _, s := range series {
		for i, v := range s.Values {
			max = math.Max(max, v)
			if i < len(s.Hi) {
				max = math.Max(max, s.Hi[i])
			}
		}
	}
	max = niceMax(max * 1.05)
	y := func(v float64) float64 {
		if math.IsNaN(v) {
			v = 0
		}
		return float64(top) + plotH*(1-v/max)
	}
	var b strings.Builder
	svgHeader(&b, width, height, title, subtitle)
	for i := 0; i <= 5; i++ {
		v := max * float64(i) / 5
		fmt.Fprintf(&b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#e0e0e0"/>`+"\n", left, y(v), width-right, y(v))
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" text-anchor="end" fill="#555555">%s</text>`+"\n", left-6, y(v)+4, thousands(v))
	}
	fmt.Fprintf(&b, `<text x="18" y="%.1f" transform="rotate(-90 18 %.1f)" text-anchor="middle" fill="#555555">%s</text>`+"\n",
		float64(top)+plotH/2, float64(top)+plotH/2, esc(yLabel))
	fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle" fill="#555555">%s</text>`+"\n", float64(left)+plotW/2, height-12, esc(xLabel))
	// legend
	lx := left
	for _, s := range series {
		fmt.Fprintf(&b, `<rect x="%d" y="52" width="12" height="12" fill="%s"/>`+"\n", lx, s.Color)
		fmt.Fprintf(&b, `<text x="%d" y="62">%s</text>`+"\n", lx+16, esc(s.Name))
		lx += 24 + 7*len(s.Name)
	}
	groupW := plotW / float64(len(groups))
	barW := groupW * 0.7 / float64(len(series))
	for g, name := range groups {
		gx := float64(left) + groupW*float64(g) + groupW*0.15
		for si, s := range series {
			if g >= len(s.Values) || math.IsNaN(s.Values[g]) {
				continue
			}
			bx := gx + barW*float64(si)
			v := s.Values[g]
			fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"/>`+"\n", bx, y(v), barW-4, y(0)-y(v), s.Color)
			cx := bx + (barW-4)/2
			if g < len(s.Lo) && g < len(s.Hi) && s.Hi[g] > s.Lo[g] {
				fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#222222"/>`+"\n", cx, y(s.Lo[g]), cx, y(s.Hi[g]))
				fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#222222"/>`+"\n", cx-4, y(s.Hi[g]), cx+4, y(s.Hi[g]))
				fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#222222"/>`+"\n", cx-4, y(s.Lo[g]), cx+4, y(s.Lo[g]))
			}
			fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle" font-size="11" fill="#ffffff">%s</text>`+"\n", cx, y(v)+16, thousands(v))
		}
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle">%s</text>`+"\n", float64(left)+groupW*(float64(g)+0.5), height-bottom+18, esc(name))
	}
	if ref > 0 {
		fmt.Fprintf(&b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#7f7f7f" stroke-dasharray="6 4" stroke-width="1.5"/>`+"\n", left, y(ref), width-right, y(ref))
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" text-anchor="end" fill="#555555">%s</text>`+"\n", width-right, y(ref)-6, esc(refLabel))
	}
	fmt.Fprintf(&b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#333333"/>`+"\n", left, y(0), width-right, y(0))
	b.WriteString("</svg>\n")
	return b.String()
}
