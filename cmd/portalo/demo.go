package main

// The demo content beyond the mediathek's items (processing.SeedDemo): a
// public podcast series holding the demo episode, and a training course
// in the multipliers' area, so that a newcomer's first start shows every
// part of the portal.

import (
	"context"
	"errors"
	"fmt"
	"time"

	"portalo/catalog"
	"portalo/courses"
	"portalo/podcasts"
)

// demoSeriesSlug and demoEpisodeSlug name the demo series and the demo
// episode processing.SeedDemo makes.
const (
	demoSeriesSlug  = "portalo-fragt-nach"
	demoEpisodeSlug = "podcast-gut-schlafen-folge-1"
)

// seedPodcastDemo makes the demo series when there is none and puts the
// demo episode in it, once; an editor's later changes are kept.
func seedPodcastDemo(ctx context.Context, pods *podcasts.Service, cat *catalog.Catalog) error {
	ep, err := cat.GetBySlug(demoEpisodeSlug)
	if errors.Is(err, catalog.ErrNotFound) {
		return nil
	}
	if err != nil || ep.Series != "" {
		return err
	}
	series, err := pods.SeriesBySlug(ctx, demoSeriesSlug)
	if errors.Is(err, podcasts.ErrNotFound) {
		series, err = pods.CreateSeries(ctx, podcasts.SeriesMeta{
			Slug: demoSeriesSlug,
			Title: map[string]string{
				"de": "portALO fragt nach",
				"en": "portALO asks",
				"tr": "portALO soruyor",
				"ru": "portALO спрашивает",
				"ar": "portALO يسأل",
			},
			Description: map[string]string{
				"de": "Der Podcast für alle Teilnehmenden: Jedes Quartal fragen wir Fachleute, wie man im Alltag gesund bleibt – beim Schlafen, Essen und Entspannen.",
				"en": "The podcast for all participants: every quarter we ask experts how to stay healthy in everyday life – sleeping, eating and relaxing.",
				"tr": "Tüm katılımcılar için podcast: Her çeyrek yılda uzmanlara günlük hayatta nasıl sağlıklı kalınacağını soruyoruz.",
				"ru": "Подкаст для всех участников: каждый квартал мы спрашиваем специалистов, как оставаться здоровыми в повседневной жизни.",
				"ar": "بودكاست لجميع المشاركين: كل ربع سنة نسأل خبراء كيف نحافظ على صحتنا في الحياة اليومية.",
			},
			Language: "de", Category: "Health & Fitness", Subcategory: "Mental Health",
			Audience: podcasts.AudiencePublic, Author: "portALO",
		})
	}
	if err != nil {
		return fmt.Errorf("demo podcast series: %w", err)
	}
	m := ep.Meta
	m.Series, m.Season, m.Number = series.ID, 1, 1
	if _, err := cat.Update(ctx, ep.ID, ep.Revision, m); err != nil && !errors.Is(err, catalog.ErrConflict) {
		return fmt.Errorf("demo episode into its series: %w", err)
	}
	return nil
}

// seedCourseDemo makes one training course three weeks ahead when there
// is none.
func seedCourseDemo(ctx context.Context, cs *courses.Service, now time.Time) error {
	list, err := cs.List(ctx, courses.ListOptions{})
	if err != nil || len(list) > 0 {
		return err
	}
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		return err
	}
	day := now.In(berlin).AddDate(0, 0, 21)
	start := time.Date(day.Year(), day.Month(), day.Day(), 10, 0, 0, 0, berlin)
	_, err = cs.Create(ctx, courses.CourseMeta{
		Title: map[string]string{
			"de": "Gesundheit ansprechen im Beratungsgespräch (Demo)",
			"en": "Raising health in counselling sessions (demo)",
		},
		Description: map[string]string{
			"de": "Eine Online-Schulung für Fachkräfte in Jobcentern: wie man das Gesundheitsangebot vorstellt, ohne zu bevormunden. Zwei Termine à drei Stunden.",
			"en": "An online course for job-centre staff: how to present the health programme without being patronising. Two sessions of three hours.",
		},
		Format: courses.FormatOnline, Language: "de", Seats: 12,
		Sessions: []courses.Session{
			{Start: start, End: start.Add(3 * time.Hour)},
			{Start: start.AddDate(0, 0, 7), End: start.AddDate(0, 0, 7).Add(3 * time.Hour)},
		},
	})
	if err != nil {
		return fmt.Errorf("demo course: %w", err)
	}
	return nil
}
