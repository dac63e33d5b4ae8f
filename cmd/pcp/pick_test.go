package main

import (
	"slices"
	"testing"
)

func TestParsePick(t *testing.T) {
	for _, c := range []struct {
		in   string
		want []int
		bad  bool
	}{
		{"", nil, false},
		{"2", []int{1}, false},
		{"1,3", []int{0, 2}, false},
		{" 3 1 ", []int{0, 2}, false},
		{"2-4", []int{1, 2, 3}, false},
		{"4-4,1", []int{0, 3}, false},
		{"1,1,2-3,3", []int{0, 1, 2}, false},
		{"0", nil, true},
		{"5", nil, true},
		{"3-2", nil, true},
		{"a", nil, true},
		{"1-", nil, true},
		{"-2", nil, true},
	} {
		got, err := parsePick(c.in, 4)
		if (err != nil) != c.bad || !slices.Equal(got, c.want) {
			t.Errorf("parsePick(%q) = %v, %v; want %v (error %v)", c.in, got, err, c.want, c.bad)
		}
	}
}
